/**
 * The egress proxy (issue 21, gateway/src/egress/) doing its job for real clients: undici's
 * ProxyAgent through a CONNECT tunnel and in absolute form (plain HTTP), a name pointed at a
 * loopback stand-in by a resolver override (granted through privateHosts, as the SSRF check
 * still applies), a client certificate the proxy presents to a TLS server that requires one
 * (mTLS origination), the same proxy on a unix socket, close() ending open tunnels. Every
 * connection is recorded once with its bytes. Loopback only; no database.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { ProxyAgent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseResolveOverrides } from '../../gateway/src/egress/resolve.ts';
import {
  authOf,
  grant,
  makeCertificates,
  openTunnel,
  startEchoServer,
  startTcpServer,
  startTestProxy,
  type TestCertificates,
  type TestProxy,
} from '../helpers/egress.ts';

let echo: Awaited<ReturnType<typeof startEchoServer>>;
let tcp: Awaited<ReturnType<typeof startTcpServer>>;

beforeAll(async () => {
  echo = await startEchoServer();
  tcp = await startTcpServer();
});
afterAll(async () => {
  await echo.close();
  await tcp.close();
});

describe('granted hosts through the egress proxy', () => {
  let t: TestProxy;
  beforeAll(async () => {
    t = await startTestProxy({
      resolve: parseResolveOverrides(
        `api.github.test=127.0.0.1:${echo.port},tunnel.github.test:443=127.0.0.1:${echo.port}`,
      ),
    });
    const loop = `127.0.0.1:${echo.port}`;
    t.grants.set(
      'github',
      grant(
        [loop, 'api.github.test', 'tunnel.github.test:443'],
        [loop, 'api.github.test', 'tunnel.github.test:443'],
      ),
    );
  });
  afterAll(() => t.proxy.close());

  it('a CONNECT tunnel (undici ProxyAgent) reaches the granted host and is recorded with its bytes', async () => {
    const agent = new ProxyAgent({
      uri: t.proxy.proxyUrl('github', '0b6e7f3c-2a40-4b8e-9d1a-5f0c2e7a9b42'),
    });
    try {
      const res = await request(`http://127.0.0.1:${echo.port}/repos?x=1`, { dispatcher: agent });
      const body = (await res.body.json()) as { url: string; headers: Record<string, string> };
      expect(res.statusCode).toBe(200);
      expect(body.url).toBe('/repos?x=1');
      // Inside a tunnel the proxy sees nothing: its credentials went with the CONNECT only.
      expect(body.headers['proxy-authorization']).toBeUndefined();
    } finally {
      await agent.close();
    }
    const [record] = await t.recorded(1);
    expect(record).toMatchObject({
      integration: 'github',
      taskId: '0b6e7f3c-2a40-4b8e-9d1a-5f0c2e7a9b42',
      kind: 'connect',
      host: '127.0.0.1',
      port: echo.port,
      address: '127.0.0.1',
      outcome: 'allowed',
      reason: undefined,
      mtls: false,
    });
    expect(record?.bytesUp).toBeGreaterThan(50);
    expect(record?.bytesDown).toBeGreaterThan(100);
    t.records.length = 0;
  });

  it('plain HTTP in absolute form is forwarded with its body, Host kept, proxy credentials dropped', async () => {
    const agent = new ProxyAgent({ uri: t.proxy.proxyUrl('github'), proxyTunnel: false });
    const payload = 'x'.repeat(5000);
    try {
      const res = await request(`http://127.0.0.1:${echo.port}/upload`, {
        dispatcher: agent,
        method: 'POST',
        body: payload,
        headers: { 'content-type': 'text/plain' },
      });
      const body = (await res.body.json()) as {
        method: string;
        url: string;
        body: string;
        headers: Record<string, string>;
      };
      expect(res.statusCode).toBe(200);
      expect(body).toMatchObject({ method: 'POST', url: '/upload', body: payload });
      expect(body.headers.host).toBe(`127.0.0.1:${echo.port}`);
      expect(body.headers['proxy-authorization']).toBeUndefined();
      expect(body.headers['proxy-connection']).toBeUndefined();
    } finally {
      await agent.close();
    }
    const [record] = await t.recorded(1);
    expect(record).toMatchObject({
      integration: 'github',
      taskId: undefined,
      kind: 'http',
      port: echo.port,
      address: '127.0.0.1',
      outcome: 'allowed',
      bytesUp: 5000,
    });
    expect(record?.bytesDown).toBeGreaterThan(5000);
    t.records.length = 0;
  });

  it('a resolver override points a name at a loopback stand-in (plain HTTP and CONNECT)', async () => {
    const plain = new ProxyAgent({ uri: t.proxy.proxyUrl('github'), proxyTunnel: false });
    const tunnel = new ProxyAgent({ uri: t.proxy.proxyUrl('github') });
    try {
      const a = await request('http://api.github.test/user', { dispatcher: plain });
      const bodyA = (await a.body.json()) as { url: string; headers: Record<string, string> };
      expect(bodyA.url).toBe('/user');
      expect(bodyA.headers.host).toBe('api.github.test');
      const b = await request('http://tunnel.github.test:443/zen', { dispatcher: tunnel });
      const bodyB = (await b.body.json()) as { url: string };
      expect(bodyB.url).toBe('/zen');
    } finally {
      await plain.close();
      await tunnel.close();
    }
    const records = await t.recorded(2);
    expect(records.map((r) => [r.kind, r.host, r.port, r.address, r.outcome])).toEqual(
      expect.arrayContaining([
        ['http', 'api.github.test', 80, '127.0.0.1', 'allowed'],
        ['connect', 'tunnel.github.test', 443, '127.0.0.1', 'allowed'],
      ]),
    );
    t.records.length = 0;
  });

  it('the same proxy on a unix socket (what an isolated namespace reaches)', async () => {
    const socketPath = `test/fixtures/.generated-egress-${process.pid}.sock`;
    await t.proxy.listenUnix(socketPath);
    const tunnel = await openTunnel(socketPath, `127.0.0.1:${tcp.port}`, authOf(t.proxy, 'github'));
    // The TCP server is not granted: the unix listener applies the same rules.
    expect(tunnel.status).toBe(403);
    const ok = await openTunnel(socketPath, `127.0.0.1:${echo.port}`, authOf(t.proxy, 'github'));
    expect(ok.status).toBe(200);
    ok.socket.end('GET /via-unix HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await ok.closed;
    expect(ok.received().toString()).toContain('/via-unix');
    const records = await t.recorded(2);
    expect(records.map((r) => r.outcome).sort()).toEqual(['allowed', 'refused']);
    t.records.length = 0;
  });

  it('close() ends open tunnels, records them, and can be called twice', async () => {
    const own = await startTestProxy();
    own.grants.set('github', grant([`127.0.0.1:${tcp.port}`], [`127.0.0.1:${tcp.port}`]));
    const tunnel = await openTunnel(
      own.proxy.port,
      `127.0.0.1:${tcp.port}`,
      authOf(own.proxy, 'github'),
      'hold',
    );
    expect(tunnel.status).toBe(200);
    await expect.poll(() => own.proxy.openConnections()).toBe(1);
    await Promise.all([own.proxy.close(), own.proxy.close()]);
    await tunnel.closed;
    expect(own.proxy.openConnections()).toBe(0);
    const [record] = await own.recorded(1);
    expect(record).toMatchObject({ integration: 'github', outcome: 'allowed', bytesUp: 4 });
  });
});

describe('mTLS origination: the proxy presents the integration’s client certificate', () => {
  let certs: TestCertificates;
  let server: https.Server;
  let port: number;
  let t: TestProxy;

  beforeAll(async () => {
    certs = makeCertificates('secure.test');
    server = https.createServer(
      {
        cert: certs.serverCert,
        key: certs.serverKey,
        ca: certs.ca,
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ url: req.url, client: peer.subject?.CN, host: req.headers.host }));
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    t = await startTestProxy({ resolve: parseResolveOverrides('secure.test=127.0.0.1') });
    const entry = `secure.test:${port}`;
    t.grants.set(
      'bank',
      grant(
        [entry],
        [entry],
        [
          {
            host: 'secure.test',
            certificate: certs.clientCert,
            key: certs.clientKey,
            ca: certs.ca,
          },
        ],
      ),
    );
  });
  afterAll(async () => {
    await t.proxy.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    certs.remove();
  });

  it('http://secure.test:<port>/ through the proxy arrives over TLS with the client certificate', async () => {
    const agent = new ProxyAgent({ uri: t.proxy.proxyUrl('bank'), proxyTunnel: false });
    try {
      const res = await request(`http://secure.test:${port}/balance`, { dispatcher: agent });
      expect(res.statusCode).toBe(200);
      expect(await res.body.json()).toEqual({
        url: '/balance',
        client: 'switchboard egress',
        host: `secure.test:${port}`,
      });
    } finally {
      await agent.close();
    }
    const [record] = await t.recorded(1);
    expect(record).toMatchObject({
      integration: 'bank',
      kind: 'http',
      host: 'secure.test',
      port,
      outcome: 'allowed',
      mtls: true,
    });
  });

  it('the same request without the proxy’s certificate is refused by the server', async () => {
    const failure = await new Promise<Error | undefined>((resolve) => {
      const req = https.request(
        { host: '127.0.0.1', port, path: '/balance', servername: 'secure.test', ca: certs.ca },
        (res) => {
          res.resume();
          resolve(undefined);
        },
      );
      req.on('error', resolve);
      req.end();
    });
    expect(failure).toBeInstanceOf(Error);
  });
});
