import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../log.ts';

/**
 * Unix-socket bridges to the gateway's own TCP listeners (issue 21): a program in an isolated
 * network namespace (containment/netns.ts) reaches nothing but its relays, and a relay pipes to a
 * unix socket. The egress proxy listens on one itself; the gateway's API is reached through a
 * bridge from here: each connection to the socket is piped to the API's TCP port.
 */
export interface UnixBridge {
  /** Stops listening, ends the open connections and removes the socket file. */
  close(): Promise<void>;
}

/** Connections open at once per bridge (as a relay's, netns.ts): further ones wait in the backlog. */
export const BRIDGE_MAX_CONNECTIONS = 256;
/** Connecting to the target, a listener of this same gateway: 10 s is only reached when it hangs. */
export const BRIDGE_CONNECT_TIMEOUT_MS = 10_000;

/**
 * A target that fails (the API down, a port changed) is logged at warn at most once per 10 s per
 * bridge with how many failed since: a program retrying in a loop cannot flood the log. A client
 * that goes away mid-connection is its own business (debug).
 */
const WARN_EVERY_MS = 10_000;

function targetFailures(log: Logger, socketPath: string, target: string) {
  let last = Number.NEGATIVE_INFINITY;
  let since = 0;
  return (error: Error) => {
    since += 1;
    if (Date.now() - last < WARN_EVERY_MS) return;
    last = Date.now();
    log.warn(
      { socket: socketPath, target, err: error.message, failures: since },
      'egress bridge could not reach its target',
    );
    since = 0;
  };
}

/** Pipes `client` to a new connection to `target`, both ways; either failing ends both. */
function splice(
  client: net.Socket,
  target: { host: string; port: number },
  log: Logger,
  socketPath: string,
  targetFailed: (error: Error) => void,
): void {
  const upstream = net.createConnection({
    host: target.host,
    port: target.port,
    allowHalfOpen: true,
  });
  const timer = setTimeout(
    () => upstream.destroy(new Error(`connect timeout after ${BRIDGE_CONNECT_TIMEOUT_MS} ms`)),
    BRIDGE_CONNECT_TIMEOUT_MS,
  );
  timer.unref();
  upstream.once('connect', () => clearTimeout(timer));
  upstream.once('close', () => clearTimeout(timer));
  let failed = false;
  const fail = (side: string) => (error: Error) => {
    clearTimeout(timer);
    if (!failed) {
      failed = true;
      if (side === 'target') targetFailed(error);
      else log.debug({ socket: socketPath, err: error.message }, 'egress bridge client failed');
    }
    client.destroy();
    upstream.destroy();
  };
  client.on('error', fail('client'));
  upstream.on('error', fail('target'));
  // The client gone: nothing the target still sends has a reader. The target gone: what it
  // sent is written out, then the client is closed (it may be waiting for more, half-open).
  client.once('close', () => upstream.destroy());
  upstream.once('close', () => {
    client.end();
    if (client.writableFinished) client.destroy();
    else client.once('finish', () => client.destroy());
  });
  client.pipe(upstream);
  upstream.pipe(client);
}

/**
 * Listens on `socketPath` (mode 0600; put it in egressRuntimeDir(), 0700, so that no other user
 * can reach it between listen and chmod) and forwards each connection to the TCP `target`.
 */
export async function startUnixBridge(
  socketPath: string,
  target: { host: string; port: number },
  log: Logger,
): Promise<UnixBridge> {
  const open = new Set<net.Socket>();
  const targetFailed = targetFailures(log, socketPath, `${target.host}:${target.port}`);
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    open.add(client);
    client.once('close', () => open.delete(client));
    try {
      splice(client, target, log, socketPath, targetFailed);
    } catch (error) {
      log.warn({ socket: socketPath, err: error }, 'egress bridge could not forward a connection');
      client.destroy();
    }
  });
  server.maxConnections = BRIDGE_MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) =>
    log.warn({ socket: socketPath, err: error }, 'egress bridge listener error'),
  );
  try {
    await fs.chmod(socketPath, 0o600);
  } catch (error) {
    server.close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const client of open) client.destroy();
      }).then(() => fs.rm(socketPath, { force: true }).catch(() => {}));
      return closing;
    },
  };
}

/** A private directory (0700) for the bridges' and the proxy's sockets; remove() deletes it whole. */
export async function egressRuntimeDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'switchboard-egress-'));
  await fs.chmod(dir, 0o700); // mkdtemp's mode already; said again for a umask-less platform
  return {
    path: dir,
    remove: () => fs.rm(dir, { recursive: true, force: true }),
  };
}
