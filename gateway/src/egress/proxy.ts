import { rm } from 'node:fs/promises';
import http from 'node:http';
import type net from 'node:net';
import type { Logger } from '../log.ts';
import { type ProxyContext, Slots } from './admit.ts';
import { proxyCredentials } from './credentials.ts';
import { handleRequest } from './forward.ts';
import type { Meter } from './meter.ts';
import { createLookup, type EgressLookup, type ResolveOverride } from './resolve.ts';
import { handleConnect, type TunnelHooks } from './tunnel.ts';
import type { EgressGrant, EgressLimits, EgressRecord } from './types.ts';

/**
 * The egress proxy (issue 21): a forward proxy inside the gateway that every integration's
 * processes reach through HTTPS_PROXY/HTTP_PROXY. It knows the integration from the credentials
 * of the URL it handed out (credentials.ts), lets through only the hosts the policy grants it,
 * never to a private address unless granted nor to the gateway itself (admit.ts), caps each
 * connection (meter.ts) and hands one audit record per connection to `record`. CONNECT tunnels
 * are in tunnel.ts, plain-HTTP forwarding and mTLS origination in forward.ts.
 */

export interface EgressProxyOptions {
  secret: Buffer;
  grantOf(integration: string): EgressGrant | undefined;
  /** Called once per connection (refused ones too); a throw is logged, never fatal. */
  record(entry: EgressRecord): void;
  limits: EgressLimits;
  log: Logger;
  /** Parsed resolver overrides (resolve.ts parseResolveOverrides). */
  resolve?: readonly ResolveOverride[];
  /** Replaces DNS and the overrides (tests). */
  lookup?: EgressLookup;
  /** The gateway's own listeners: refused whatever the grant (the proxy's own port is added). */
  gatewayAddresses(): Array<{ host: string; port: number }>;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
}

export interface EgressProxy {
  readonly port: number;
  /** `http://<integration>[+<taskId>]:<password>@127.0.0.1:<port>` for HTTPS_PROXY/HTTP_PROXY. */
  proxyUrl(integration: string, taskId?: string): string;
  /** Serves the same proxy on a unix socket too (an isolated network namespace reaches it so). */
  listenUnix(path: string): Promise<void>;
  /** Tunnels and forwarded requests open now. */
  openConnections(): number;
  /** Stops listening and ends every connection (each still recorded); idempotent. */
  close(): Promise<void>;
}

/** Connections open at once through the proxy in all: bounded file descriptors. */
export const GLOBAL_CONNECTION_CAP = 1024;
/** The request line and headers of a request to the proxy must arrive within 10 s (slowloris). */
const HEADERS_TIMEOUT_MS = 10_000;

export async function startEgressProxy(options: EgressProxyOptions): Promise<EgressProxy> {
  const log = options.log.child({ component: 'egress' });
  const host = options.host ?? '127.0.0.1';
  const sockets = new Set<net.Socket>();
  const meters = new Set<Meter>();
  const servers: http.Server[] = [];
  let port = 0;
  const ctx: ProxyContext = {
    secret: options.secret,
    grantOf: (integration) => options.grantOf(integration),
    record: (entry) => options.record(entry),
    limits: options.limits,
    log,
    lookup: options.lookup ?? createLookup(options.resolve ?? [], options.limits.connectTimeoutMs),
    gatewayAddresses: () => [...options.gatewayAddresses(), { host, port }],
    slots: new Slots(options.limits.maxConnectionsPerIntegration, GLOBAL_CONNECTION_CAP),
  };
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const hooks: TunnelHooks = {
    track,
    live: (meter) => {
      meters.add(meter);
      meter.onFinish(() => meters.delete(meter));
    },
  };

  const createServer = () => {
    // requestTimeout 0: a forwarded body streams for up to maxDurationMs (meter.ts), not 300 s.
    const server = http.createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: 0 });
    // Sockets not yet admitted (a client holding a connection without a request) are bounded too.
    server.maxConnections = 2 * GLOBAL_CONNECTION_CAP;
    server.on('connection', track);
    server.on('connect', (req, socket: net.Socket, head: Buffer) => {
      handleConnect(ctx, hooks, req, socket, head).catch((error: unknown) => {
        log.error({ err: error }, 'egress CONNECT failed');
        socket.destroy();
      });
    });
    server.on('request', (req, res) => {
      handleRequest(ctx, hooks, req, res).catch((error: unknown) => {
        log.error({ err: error }, 'egress request failed');
        res.destroy();
      });
    });
    // A WebSocket (or h2c) upgrade in absolute form is not forwarded: answered and closed.
    server.on('upgrade', (_req, socket: net.Socket) => {
      socket.on('error', () => socket.destroy());
      socket.end(
        'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nX-Switchboard-Egress: bad_request\r\nConnection: close\r\n\r\negress refused: upgrades are not forwarded; use CONNECT\n',
      );
    });
    server.on('clientError', (error, socket) => {
      // Not audited: no credentials were read, and a flood of garbage must not flood the audit.
      log.debug({ err: error }, 'egress client sent a malformed request');
      const code = (error as { code?: string }).code;
      const status =
        code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? '408 Request Timeout'
            : '400 Bad Request';
      if (socket.writable) {
        socket.end(
          `HTTP/1.1 ${status}\r\nX-Switchboard-Egress: bad_request\r\nConnection: close\r\n\r\n`,
        );
      }
      socket.destroy();
    });
    server.on('error', (error) => log.error({ err: error }, 'egress proxy listener error'));
    servers.push(server);
    return server;
  };

  const main = createServer();
  await new Promise<void>((resolve, reject) => {
    main.once('error', reject);
    main.listen(options.port ?? 0, host, () => {
      main.removeListener('error', reject);
      resolve();
    });
  });
  port = (main.address() as net.AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | undefined;
  return {
    port,
    proxyUrl(integration, taskId) {
      const { username, password } = proxyCredentials(options.secret, integration, taskId);
      return `http://${encodeURIComponent(username)}:${password}@${urlHost}:${port}`;
    },
    async listenUnix(path) {
      if (closing) throw new Error('the egress proxy is closed');
      // A socket file left by a previous run would make listen fail with EADDRINUSE.
      await rm(path, { force: true });
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.removeListener('error', reject);
          resolve();
        });
      });
    },
    openConnections: () => meters.size,
    close() {
      closing ??= (async () => {
        const stopped = servers.map(
          (server) => new Promise<void>((resolve) => server.close(() => resolve())),
        );
        for (const meter of [...meters]) meter.finish('allowed', undefined);
        for (const socket of sockets) socket.destroy();
        await Promise.all(stopped);
      })();
      return closing;
    },
  };
}
