import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { type EgressProxy, startEgressProxy } from '../../gateway/src/egress/proxy.ts';
import type { ResolveOverride } from '../../gateway/src/egress/resolve.ts';
import type { EgressGrant, EgressLimits, EgressRecord } from '../../gateway/src/egress/types.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { until } from './until.ts';

/**
 * The egress proxy (gateway/src/egress/) on loopback with real sockets: a proxy whose grants and
 * records a test reads and changes, an HTTP upstream that says what it received, a TCP upstream,
 * raw proxy requests for hostile cases and certificates made with the openssl CLI.
 */

export const TEST_LIMITS: EgressLimits = {
  connectTimeoutMs: 5_000,
  maxDurationMs: 30_000,
  idleTimeoutMs: 10_000,
  maxBytes: 1_000_000,
  maxConnectionsPerIntegration: 20,
};

export interface TestProxy {
  proxy: EgressProxy;
  records: EgressRecord[];
  grants: Map<string, EgressGrant>;
  secret: Buffer;
  /** Waits for n records in all, and returns them. */
  recorded(n: number): Promise<EgressRecord[]>;
}

export const grant = (
  hosts: string[],
  privateHosts: string[] = [],
  mtls: EgressGrant['mtls'] = [],
): EgressGrant => ({ hosts, privateHosts, mtls });

export async function startTestProxy(
  options: {
    limits?: Partial<EgressLimits>;
    resolve?: ResolveOverride[];
    gatewayAddresses?: () => Array<{ host: string; port: number }>;
    record?: (entry: EgressRecord) => void;
  } = {},
): Promise<TestProxy> {
  const records: EgressRecord[] = [];
  const grants = new Map<string, EgressGrant>();
  const secret = randomBytes(32);
  const proxy = await startEgressProxy({
    secret,
    grantOf: (integration) => grants.get(integration),
    record: (entry) => {
      records.push(entry);
      options.record?.(entry);
    },
    limits: { ...TEST_LIMITS, ...options.limits },
    log: createLogger('silent'),
    resolve: options.resolve ?? [],
    gatewayAddresses: options.gatewayAddresses ?? (() => []),
  });
  return {
    proxy,
    records,
    grants,
    secret,
    recorded: (n) =>
      until(
        `${n} egress records (have ${records.length})`,
        async () => (records.length >= n ? records : undefined),
        15_000,
      ),
  };
}

/** An HTTP server that answers what it received: method, url, headers, body length. */
export async function startEchoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.setHeader('content-type', 'application/json');
      res.setHeader('connection', 'close');
      res.end(
        JSON.stringify({
          method: req.method,
          url: req.url,
          headers: req.headers,
          body: body.toString('utf8'),
        }),
      );
    });
  });
  return listen(server);
}

/**
 * A TCP server: echoes what it gets, or on `send N` sends N bytes, or on `hold` says nothing
 * and keeps the connection open.
 */
export async function startTcpServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((socket) => {
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      const send = /^send (\d+)/.exec(text);
      if (send) socket.write(Buffer.alloc(Number(send[1]), 0x61));
      else if (!text.startsWith('hold')) socket.write(chunk);
    });
  });
  return listen(server);
}

async function listen(server: net.Server): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function parseAnswer(text: string): RawAnswer {
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return {
    status: Number(statusLine.split(' ')[1] ?? 0),
    headers,
    body: end < 0 ? '' : text.slice(end + 4),
  };
}

/** Sends raw bytes to the proxy and reads until it closes: a refusal, or a 400. */
export function rawExchange(port: number | string, request: string | Buffer): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = typeof port === 'string' ? net.connect(port) : net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (error) => {
      if (chunks.length > 0) resolve(parseAnswer(Buffer.concat(chunks).toString('utf8')));
      else reject(error);
    });
    socket.on('close', () => resolve(parseAnswer(Buffer.concat(chunks).toString('utf8'))));
    socket.write(request);
  });
}

export const basic = (username: string, password: string) =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

/** The Proxy-Authorization header of the URL proxyUrl gives an integration. */
export function authOf(proxy: EgressProxy, integration: string, taskId?: string): string {
  const url = new URL(proxy.proxyUrl(integration, taskId));
  return basic(decodeURIComponent(url.username), decodeURIComponent(url.password));
}

export interface Tunnel {
  socket: net.Socket;
  status: number;
  /** Bytes received after the 200, until the tunnel closed (closed()). */
  received(): Buffer;
  closed: Promise<void>;
}

/** `CONNECT target` with the given Proxy-Authorization; resolves once the answer's head is in. */
export function openTunnel(
  port: number | string,
  target: string,
  authorization: string | undefined,
  head = '',
): Promise<Tunnel> {
  return new Promise((resolve, reject) => {
    const socket = typeof port === 'string' ? net.connect(port) : net.connect(port, '127.0.0.1');
    let buffer = Buffer.alloc(0);
    let status: number | undefined;
    let after: Buffer[] = [];
    const closed = new Promise<void>((done) => socket.on('close', () => done()));
    socket.on('error', (error) => {
      if (status === undefined) reject(error);
    });
    socket.on('data', (chunk: Buffer) => {
      if (status !== undefined) {
        after.push(chunk);
        return;
      }
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      status = Number(buffer.subarray(0, end).toString('latin1').split(' ')[1]);
      after = [buffer.subarray(end + 4)];
      resolve({ socket, status, received: () => Buffer.concat(after), closed });
    });
    socket.on('close', () => {
      if (status === undefined) reject(new Error('closed before an answer'));
    });
    const auth = authorization === undefined ? '' : `Proxy-Authorization: ${authorization}\r\n`;
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth}\r\n${head}`);
  });
}

export interface TestCertificates {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  remove(): void;
}

/** A CA, a server certificate for `serverName` and a client certificate, all by openssl. */
export function makeCertificates(serverName: string): TestCertificates {
  const dir = path.resolve(
    `test/fixtures/.generated-egress-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  mkdirSync(dir, { recursive: true });
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key = (name: string) =>
    run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', name);
  key('ca.key');
  run(
    'req',
    '-x509',
    '-new',
    '-key',
    'ca.key',
    '-subj',
    '/CN=egress test CA',
    '-days',
    '2',
    '-out',
    'ca.pem',
  );
  const signed = (name: string, subject: string, extensions: string) => {
    key(`${name}.key`);
    run('req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`);
    execFileSync('sh', ['-c', `printf '%s\\n' "$EXT" > ${name}.ext`], {
      cwd: dir,
      env: { ...process.env, EXT: extensions },
    });
    run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    );
  };
  signed(
    'server',
    `/CN=${serverName}`,
    `subjectAltName=DNS:${serverName}\nextendedKeyUsage=serverAuth`,
  );
  signed('client', '/CN=switchboard egress', 'extendedKeyUsage=clientAuth');
  const read = (name: string) => readFileSync(path.join(dir, name), 'utf8');
  return {
    dir,
    ca: read('ca.pem'),
    serverCert: read('server.pem'),
    serverKey: read('server.key'),
    clientCert: read('client.pem'),
    clientKey: read('client.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** One connection as the proxy records it: allowed, to a public address, unless `over` says otherwise. */
export function egressRecord(over: Partial<EgressRecord>): EgressRecord {
  return {
    integration: 'alpha',
    taskId: undefined,
    kind: 'connect',
    host: 'api.example.com',
    port: 443,
    address: '93.184.216.34',
    outcome: 'allowed',
    reason: undefined,
    bytesUp: 517,
    bytesDown: 4_096,
    startedAt: new Date(),
    durationMs: 12.4,
    mtls: false,
    ...over,
  };
}
