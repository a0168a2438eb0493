/**
 * Attacks on the egress proxy (issue 21, gateway/src/egress/) by an integration's own processes,
 * which hold a proxy URL and nothing else: no or forged credentials (another integration's
 * password, a task id added), hosts the policy does not grant, granted names that resolve to
 * loopback or the metadata service, the gateway's own listeners (even granted), tunnels held
 * past their byte and idle caps, connection floods (per integration, and 40 from 3 integrations
 * at once, each audited under its own name), and bytes that are no HTTP. Every refusal answers
 * the rule to change and is recorded once. Loopback only; no database.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxyCredentials } from '../../gateway/src/egress/credentials.ts';
import { parseResolveOverrides } from '../../gateway/src/egress/resolve.ts';
import {
  authOf,
  basic,
  grant,
  rawExchange,
  startEchoServer,
  startTcpServer,
  startTestProxy,
  type TestProxy,
} from '../helpers/egress.ts';

let tcp: Awaited<ReturnType<typeof startTcpServer>>;
let echo: Awaited<ReturnType<typeof startEchoServer>>;
let gateway: http.Server;
let gatewayPort: number;

beforeAll(async () => {
  tcp = await startTcpServer();
  echo = await startEchoServer();
  // Stands in for the gateway's API listener.
  gateway = http.createServer((_req, res) => res.end('admin api'));
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  gatewayPort = (gateway.address() as AddressInfo).port;
});
afterAll(async () => {
  await tcp.close();
  await echo.close();
  gateway.closeAllConnections();
  await new Promise<void>((resolve) => gateway.close(() => resolve()));
});

const connectRequest = (target: string, authorization?: string) =>
  `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${authorization ? `Proxy-Authorization: ${authorization}\r\n` : ''}\r\n`;

describe('who is connecting: credentials', () => {
  let t: TestProxy;
  beforeAll(async () => {
    t = await startTestProxy();
    const loop = `127.0.0.1:${tcp.port}`;
    t.grants.set('github', grant([loop], [loop]));
    t.grants.set('weather', grant([], []));
  });
  afterAll(() => t.proxy.close());

  it('no credentials, a wrong password, another scheme: 407 with a Basic challenge, recorded', async () => {
    const target = `127.0.0.1:${tcp.port}`;
    const attempts = [
      undefined,
      basic('github', 'not-the-password'),
      `Bearer ${proxyCredentials(t.secret, 'github').password}`,
      basic('github', ''),
      `Basic ${'A'.repeat(10_000)}`,
    ];
    for (const authorization of attempts) {
      const answer = await rawExchange(t.proxy.port, connectRequest(target, authorization));
      expect(answer.status).toBe(407);
      expect(answer.headers['proxy-authenticate']).toBe('Basic realm="switchboard-egress"');
      expect(answer.headers['x-switchboard-egress']).toBe('unauthenticated');
    }
    const records = await t.recorded(attempts.length);
    expect(records.every((r) => r.outcome === 'refused' && r.reason === 'unauthenticated')).toBe(
      true,
    );
    expect(records.every((r) => r.integration === undefined && r.address === undefined)).toBe(true);
    t.records.length = 0;
  });

  it('one integration’s password under another’s name (or with a task id added) is 407', async () => {
    const weather = proxyCredentials(t.secret, 'weather');
    const weatherTask = proxyCredentials(
      t.secret,
      'weather',
      '0b6e7f3c-2a40-4b8e-9d1a-5f0c2e7a9b07',
    );
    const forged = [
      basic('github', weather.password),
      basic('github+7', weatherTask.password),
      basic('weather+7', weather.password),
      basic('weather+x', weather.password),
      basic('GitHub', proxyCredentials(t.secret, 'github').password),
    ];
    for (const authorization of forged) {
      const answer = await rawExchange(
        t.proxy.port,
        connectRequest(`127.0.0.1:${tcp.port}`, authorization),
      );
      expect(answer.status).toBe(407);
    }
    // The same on plain HTTP.
    const plain = await rawExchange(
      t.proxy.port,
      `GET http://127.0.0.1:${tcp.port}/ HTTP/1.1\r\nHost: x\r\nProxy-Authorization: ${forged[0]}\r\nConnection: close\r\n\r\n`,
    );
    expect(plain.status).toBe(407);
    const records = await t.recorded(forged.length + 1);
    expect(records.every((r) => r.reason === 'unauthenticated')).toBe(true);
    t.records.length = 0;
  });
});

describe('where to: grants, private addresses, the gateway itself', () => {
  let t: TestProxy;
  beforeAll(async () => {
    t = await startTestProxy({
      resolve: parseResolveOverrides(
        `loop.evil.test=127.0.0.1:${tcp.port},metadata.evil.test=169.254.169.254,mapped.evil.test=[::ffff:127.0.0.1]:${tcp.port},admin.evil.test=127.0.0.1:${gatewayPort}`,
      ),
      gatewayAddresses: () => [{ host: '127.0.0.1', port: gatewayPort }],
    });
  });
  afterAll(() => t.proxy.close());

  const refusal = async (integration: string, target: string) => {
    t.records.length = 0;
    const answer = await rawExchange(
      t.proxy.port,
      connectRequest(target, authOf(t.proxy, integration)),
    );
    const [record] = await t.recorded(1);
    return { answer, record };
  };

  it('a host the grant does not list: 403 host_not_granted, naming the policy entry to add', async () => {
    t.grants.set(
      'github',
      grant(['api.github.com:443', `127.0.0.1:${tcp.port}`], [`127.0.0.1:${tcp.port}`]),
    );
    const { answer, record } = await refusal('github', 'evil.example.com:443');
    expect(answer.status).toBe(403);
    expect(answer.headers['x-switchboard-egress']).toBe('host_not_granted');
    expect(answer.body).toBe(
      'egress refused: evil.example.com:443 is not granted to integration "github"; add it to policy integrations.github.outboundHosts (and the manifest\'s outboundHosts)\n',
    );
    expect(record).toMatchObject({
      integration: 'github',
      host: 'evil.example.com',
      port: 443,
      outcome: 'refused',
      reason: 'host_not_granted',
    });
    // A granted host on another port, another loopback port, an integration without a grant.
    expect((await refusal('github', 'api.github.com:22')).answer.status).toBe(403);
    const otherPort = await refusal('github', `127.0.0.1:${echo.port}`);
    expect(otherPort.record?.reason).toBe('host_not_granted');
    expect((await refusal('nobody', 'api.github.com:443')).record?.reason).toBe('host_not_granted');
  });

  it('granted names resolving to loopback, the metadata service or IPv4-mapped loopback: 403 address_refused', async () => {
    t.grants.set(
      'evil',
      grant(['loop.evil.test', 'metadata.evil.test', 'mapped.evil.test', '127.0.0.1', '[::1]']),
    );
    const loop = await refusal('evil', 'loop.evil.test:443');
    expect(loop.answer.status).toBe(403);
    expect(loop.answer.headers['x-switchboard-egress']).toBe('address_refused');
    expect(loop.answer.body).toBe(
      'egress refused: loop.evil.test:443 resolves to 127.0.0.1, a loopback address; grant it in policy integrations.evil.egress.privateHosts\n',
    );
    expect(loop.record).toMatchObject({
      outcome: 'refused',
      reason: 'address_refused',
      address: undefined,
    });
    const metadata = await refusal('evil', 'metadata.evil.test:80');
    expect(metadata.answer.body).toContain('169.254.169.254, a link-local address');
    expect((await refusal('evil', 'mapped.evil.test:443')).record?.reason).toBe('address_refused');
    expect((await refusal('evil', `127.0.0.1:${tcp.port}`)).answer.body).toContain(
      `127.0.0.1:${tcp.port} is a loopback address`,
    );
    expect((await refusal('evil', `[::1]:${tcp.port}`)).record?.reason).toBe('address_refused');
    // Plain HTTP takes the same path.
    t.records.length = 0;
    const plain = await rawExchange(
      t.proxy.port,
      `GET http://metadata.evil.test/latest/meta-data/ HTTP/1.1\r\nHost: metadata.evil.test\r\nProxy-Authorization: ${authOf(t.proxy, 'evil')}\r\nConnection: close\r\n\r\n`,
    );
    expect(plain.status).toBe(403);
    expect(plain.headers['x-switchboard-egress']).toBe('address_refused');
  });

  it('the gateway’s own listener and the proxy’s own port: gateway_address, even granted as private', async () => {
    const own = `127.0.0.1:${t.proxy.port}`;
    const api = `127.0.0.1:${gatewayPort}`;
    t.grants.set(
      'evil',
      grant([api, own, 'admin.evil.test', 'localhost'], [api, own, 'admin.evil.test', 'localhost']),
    );
    for (const target of [
      api,
      own,
      'admin.evil.test:443',
      `[::ffff:127.0.0.1]:${gatewayPort}`,
      `127.0.0.2:${gatewayPort}`,
    ]) {
      t.grants.set(
        'evil',
        grant([api, own, 'admin.evil.test', target], [api, own, 'admin.evil.test', target]),
      );
      const { answer, record } = await refusal('evil', target);
      expect(answer.status, target).toBe(403);
      expect(answer.headers['x-switchboard-egress'], target).toBe('gateway_address');
      expect(record?.reason, target).toBe('gateway_address');
    }
  });

  it('a gateway listening on every interface (0.0.0.0) is refused on its loopback address too', async () => {
    const wide = await startTestProxy({
      gatewayAddresses: () => [{ host: '0.0.0.0', port: gatewayPort }],
    });
    try {
      const api = `127.0.0.1:${gatewayPort}`;
      wide.grants.set('evil', grant([api], [api]));
      const answer = await rawExchange(
        wide.proxy.port,
        connectRequest(api, authOf(wide.proxy, 'evil')),
      );
      expect(answer.headers['x-switchboard-egress']).toBe('gateway_address');
    } finally {
      await wide.proxy.close();
    }
  });

  it('requests that are no proxy request: origin-form, https:// in absolute form, a CONNECT without a port: 400', async () => {
    t.grants.set('github', grant([`127.0.0.1:${echo.port}`], [`127.0.0.1:${echo.port}`]));
    const auth = authOf(t.proxy, 'github');
    const requests = [
      `GET /admin HTTP/1.1\r\nHost: 127.0.0.1:${echo.port}\r\nProxy-Authorization: ${auth}\r\nConnection: close\r\n\r\n`,
      `GET https://127.0.0.1:${echo.port}/ HTTP/1.1\r\nHost: x\r\nProxy-Authorization: ${auth}\r\nConnection: close\r\n\r\n`,
      `CONNECT 127.0.0.1 HTTP/1.1\r\nHost: x\r\nProxy-Authorization: ${auth}\r\n\r\n`,
      `CONNECT user@127.0.0.1:${echo.port} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: ${auth}\r\n\r\n`,
    ];
    for (const text of requests) {
      const answer = await rawExchange(t.proxy.port, text);
      expect(answer.status, text).toBe(400);
      expect(answer.headers['x-switchboard-egress']).toBe('bad_request');
    }
  });
});
