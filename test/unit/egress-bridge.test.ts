/**
 * The unix-socket bridge (egress/bridge.ts) that lets a program in an isolated network namespace
 * reach the gateway's API: bytes both ways, half-close, a dead target, close(). Real sockets.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  egressRuntimeDir,
  startUnixBridge,
  type UnixBridge,
} from '../../gateway/src/egress/bridge.ts';
import { createLogger } from '../../gateway/src/log.ts';

const log = createLogger('silent');
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function runtimeDir() {
  const dir = await egressRuntimeDir();
  cleanups.push(() => dir.remove());
  return dir;
}

async function bridge(socket: string, port: number): Promise<UnixBridge> {
  const b = await startUnixBridge(socket, { host: '127.0.0.1', port }, log);
  cleanups.push(() => b.close());
  return b;
}

/** A TCP server answering each connection with "<prefix>" + everything it read, once the client ends. */
async function tcpServer(prefix: string): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => socket.end(Buffer.concat([Buffer.from(prefix), ...chunks])));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as net.AddressInfo).port;
}

/** Sends `payload`, half-closes, and reads until the other side closes. */
function exchange(socket: string, payload: Buffer): Promise<{ data: Buffer; error?: string }> {
  return new Promise((resolve) => {
    const client = net.createConnection({ path: socket, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let error: string | undefined;
    client.on('data', (chunk: Buffer) => chunks.push(chunk));
    client.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    client.on('close', () =>
      resolve({ data: Buffer.concat(chunks), ...(error === undefined ? {} : { error }) }),
    );
    client.end(payload);
  });
}

describe('startUnixBridge', () => {
  it('pipes bytes both ways, exactly, through a 0600 socket in a 0700 directory', async () => {
    const dir = await runtimeDir();
    expect(path.basename(dir.path)).toMatch(/^switchboard-egress-/);
    expect(fs.statSync(dir.path).mode & 0o777).toBe(0o700);
    const socket = path.join(dir.path, 'api.sock');
    await bridge(socket, await tcpServer('echo:'));
    expect(fs.statSync(socket).isSocket()).toBe(true);
    expect(fs.statSync(socket).mode & 0o777).toBe(0o600);
    // Every byte value, and 1 MiB of it: nothing is re-encoded or lost.
    const payload = Buffer.alloc(1 << 20);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    const { data, error } = await exchange(socket, payload);
    expect(error).toBeUndefined();
    expect(data.equals(Buffer.concat([Buffer.from('echo:'), payload]))).toBe(true);
    // Several at once, each its own connection to the target.
    const answers = await Promise.all(
      ['a', 'b', 'c'].map((text) => exchange(socket, Buffer.from(text))),
    );
    expect(answers.map((a) => a.data.toString())).toEqual(['echo:a', 'echo:b', 'echo:c']);
  });

  it('closes the client cleanly when the target refuses, and keeps serving', async () => {
    const dir = await runtimeDir();
    // A port nobody listens on: one that was just closed.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const deadPort = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const socket = path.join(dir.path, 'dead.sock');
    const lines: Array<{ level: string; msg: string; failures?: number }> = [];
    const b = await startUnixBridge(
      socket,
      { host: '127.0.0.1', port: deadPort },
      createLogger('debug', { write: (line: string) => void lines.push(JSON.parse(line)) }),
    );
    cleanups.push(() => b.close());
    const first = await exchange(socket, Buffer.from('anyone?'));
    expect(first.data.length).toBe(0);
    // Closed by the bridge: at most a reset, never a hang or a crash of the bridge.
    expect([undefined, 'ECONNRESET', 'EPIPE']).toContain(first.error);
    const again = await exchange(socket, Buffer.from('still there?'));
    expect(again.data.length).toBe(0);
    // Logged, once for both (at most one warning per 10 s, so a retry loop cannot flood).
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      msg: 'egress bridge could not reach its target',
      failures: 1,
    });
  });

  it('close() ends open connections and removes the socket file', async () => {
    const dir = await runtimeDir();
    const socket = path.join(dir.path, 'api.sock');
    const server = net.createServer((s) => s.on('error', () => {})); // holds connections open
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const b = await startUnixBridge(
      socket,
      { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port },
      log,
    );
    const client = net.createConnection({ path: socket });
    client.on('error', () => {});
    await new Promise((resolve) => client.once('connect', resolve));
    const closed = new Promise((resolve) => client.once('close', resolve));
    await b.close();
    await closed;
    expect(fs.existsSync(socket)).toBe(false);
    await b.close(); // twice is fine
  });

  it('refuses a socket path that is taken', async () => {
    const dir = await runtimeDir();
    const socket = path.join(dir.path, 'api.sock');
    await bridge(socket, await tcpServer(''));
    await expect(startUnixBridge(socket, { host: '127.0.0.1', port: 1 }, log)).rejects.toThrow(
      /EADDRINUSE/,
    );
  });
});
