/**
 * Issue 21 end to end: a gateway whose integrations reach the network only through its egress
 * proxy. A copy of the hostile fixture asks for hosts the way a well-behaved server does (through
 * HTTP_PROXY) and tries the rest; a second copy runs with `egress.isolation: network`; the weather
 * example reaches its "external" API (a loopback fake) by name. Every connection lands in the log.
 */
import fs from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byName } from '../helpers/by-name.ts';
import { makeCertificates, startEchoServer, type TestCertificates } from '../helpers/egress.ts';
import { type FakeOpenWeather, startFakeOpenWeather } from '../helpers/fake-openweather.ts';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';
import { copyHostileFixture } from '../helpers/hostile-copy.ts';
import { grantTask, integrationOf, messagesOf, post, toolCall } from '../helpers/mcp-gateway.ts';
import { until } from '../helpers/until.ts';

const WEATHER_KEY = 'weather-e2e-key-0123456789';
const root = fs.mkdtempSync(path.join(REPO_ROOT, 'test/fixtures/.generated-egress-e2e-'));
const gatewayEnv: Record<string, string> = {};
const REPORTER = path.join(REPO_ROOT, 'test/fixtures/processes/reporter.mjs');
const roamerReport = path.join(root, 'roamer-process.jsonl');
const jailedReport = path.join(root, 'jailed-process.jsonl');

let api: { port: number; close(): Promise<void> };
let other: { port: number; close(): Promise<void> };
let weather: FakeOpenWeather;
let certs: TestCertificates;
let bank: http.Server;

/** A TLS server that answers only clients with a certificate of the test CA, naming the client. */
async function startBank(c: TestCertificates): Promise<https.Server> {
  const server = https.createServer(
    { key: c.serverKey, cert: c.serverCert, ca: c.ca, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
      res.end(JSON.stringify({ client: peer.subject?.CN ?? null, path: req.url }));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

beforeAll(async () => {
  api = await startEchoServer();
  other = await startEchoServer();
  certs = makeCertificates('secure.bank.test');
  bank = await startBank(certs);
  weather = await startFakeOpenWeather({
    apiKey: WEATHER_KEY,
    cities: [
      {
        name: 'London',
        country: 'GB',
        description: 'light rain',
        temp: 11.8,
        feelsLike: 10.9,
        humidity: 81,
        windSpeed: 4.1,
      },
    ],
  });
  const openweather = byName('api.openweathermap.org', `http://127.0.0.1:${weatherPort()}`);
  gatewayEnv.SWITCHBOARD_EGRESS_RESOLVE = [
    `api.granted.test=127.0.0.1:${api.port}`,
    `secure.bank.test=127.0.0.1:${(bank.address() as AddressInfo).port}`,
    `unlisted.test=127.0.0.1:${api.port}`,
    // Granted by name, but it resolves to the metadata service: refused without privateHosts.
    'meta.test=169.254.169.254',
    openweather.resolve,
  ].join(',');
  const integrations = path.join(root, 'integrations');
  // Each has a process too (reporter.mjs writes its environment): processes get the proxy as
  // the server does, and a process that requires an mTLS setting still never receives it.
  const outbound = `capabilities: [http.outbound, processes]
outboundHosts: [api.granted.test, secure.bank.test, meta.test]
processes:
  - { name: reporter, command: node, args: [${JSON.stringify(REPORTER)}], requires: [REPORT_FILE, BANK_KEY] }
`;
  copyHostileFixture(
    integrations,
    'roamer',
    { BANK_CERT: '', BANK_KEY: '', BANK_CA: '', REPORT_FILE: '' },
    outbound,
  );
  // A server per task (instances: task): its credentials name the task, and so does the log.
  copyHostileFixture(
    integrations,
    'tasked',
    {},
    '  instances: task\ncapabilities: [http.outbound]\noutboundHosts: [api.granted.test]\n',
  );
  copyHostileFixture(
    integrations,
    'jailed',
    { REPORT_FILE: '' },
    `capabilities: [http.outbound, processes]
outboundHosts: [api.granted.test]
processes:
  - { name: reporter, command: node, args: [${JSON.stringify(REPORTER)}], requires: [REPORT_FILE] }
`,
  );
  fs.writeFileSync(
    path.join(root, 'policy.yaml'),
    `apiVersion: switchboard/policy/v1
integrations:
  roamer:
    enabled: true
    grants: [http.outbound, processes]
    outboundHosts: [api.granted.test, secure.bank.test, meta.test]
    egress:
      privateHosts: [api.granted.test, secure.bank.test]
      mtls:
        - { host: secure.bank.test, certificate: BANK_CERT, key: BANK_KEY, ca: BANK_CA }
    settings:
      BANK_CERT: ${JSON.stringify(certs.clientCert)}
      BANK_KEY: ${JSON.stringify(certs.clientKey)}
      BANK_CA: ${JSON.stringify(certs.ca)}
      REPORT_FILE: ${JSON.stringify(roamerReport)}
  tasked:
    enabled: true
    grants: [http.outbound]
    outboundHosts: [api.granted.test]
    egress: { privateHosts: [api.granted.test] }
  jailed:
    enabled: true
    grants: [http.outbound, processes]
    outboundHosts: [api.granted.test]
    egress: { isolation: network, privateHosts: [api.granted.test] }
    settings:
      REPORT_FILE: ${JSON.stringify(jailedReport)}
  weather:
    enabled: true
    grants: [http.outbound]
    outboundHosts: [api.openweathermap.org]
${openweather.policy}    settings:
      WEATHER_API_KEY: ${WEATHER_KEY}
      WEATHER_API_URL: ${openweather.url}
tokens: { defaultTtl: 15m, maxTtl: 2h }
`,
  );
  gatewayEnv.INTEGRATION_DIRS = `${path.join(REPO_ROOT, 'servers')}:${integrations}`;
  gatewayEnv.SWITCHBOARD_POLICY = path.join(root, 'policy.yaml');
});

function weatherPort(): string {
  return new URL(weather.url).port;
}

afterAll(async () => {
  await api?.close();
  await other?.close();
  await weather?.close();
  await new Promise<void>((resolve) => (bank ? bank.close(() => resolve()) : resolve()));
  certs?.remove();
  fs.rmSync(root, { recursive: true, force: true });
});

const gw = useTestGateway(gatewayEnv);

async function call(integration: string, name: string, args: Record<string, unknown> = {}) {
  const granted = await grantTask(gw(), [`${integration}:*`]);
  const { url, token } = integrationOf(granted, integration);
  const res = await post(url, token, toolCall(1, name, args));
  const [answer] = messagesOf(res.headers.get('content-type'), await res.text());
  const result = (answer as { result?: { content: Array<{ text: string }>; isError?: boolean } })
    .result;
  return {
    text: result?.content[0]?.text ?? JSON.stringify(answer),
    isError: result?.isError,
    taskId: granted.task.id,
  };
}

async function json(integration: string, name: string, args: Record<string, unknown> = {}) {
  return JSON.parse((await call(integration, name, args)).text) as Record<string, unknown>;
}

interface Row {
  integration: string | null;
  taskId: string | null;
  host: string;
  port: number;
  outcome: string;
  reason: string | null;
  bytesDown: number;
  mtls: boolean;
}

/**
 * The log's rows of one integration once `n` are there, or once one passes `has` (rows are
 * written ≤ 200 ms after each connection ends).
 */
async function logged(integration: string, n: number, has?: (row: Row) => boolean): Promise<Row[]> {
  return until(`${n} egress rows of ${integration}`, async () => {
    const res = await fetch(`${gw().url}/api/v1/egress?integration=${integration}&limit=500`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    const rows = ((await res.json()) as { connections: Row[] }).connections;
    return rows.length >= n && (!has || rows.some(has)) ? rows : undefined;
  });
}

describe('egress through the gateway (issue 21)', () => {
  it('says which integrations are advisory and which isolated', async () => {
    const res = await fetch(`${gw().url}/api/v1/integrations`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    const { integrations } = (await res.json()) as {
      integrations: Array<{ name: string; state: string; egress: string | null }>;
    };
    const of = (name: string) => integrations.find((i) => i.name === name);
    expect(of('roamer')).toMatchObject({ state: 'ready', egress: 'advisory' });
    expect(of('jailed')).toMatchObject({ state: 'ready', egress: 'isolated' });
    expect(of('weather')).toMatchObject({ state: 'ready', egress: 'advisory' });
    expect(of('tasked')).toMatchObject({ state: 'ready', egress: 'advisory' });
  });

  it('lets a granted host through, by name, and logs it', async () => {
    const answer = await json('roamer', 'egress_http', { url: 'http://api.granted.test/hello' });
    expect(answer.status).toBe(200);
    expect(JSON.parse(String(answer.body))).toMatchObject({ method: 'GET', url: '/hello' });
    const tunnel = await json('roamer', 'egress_connect', {
      target: 'api.granted.test:443',
      send: 'GET /tunnelled HTTP/1.0\r\nHost: api.granted.test\r\n\r\n',
    });
    expect(tunnel.status).toBe(200);
    expect(String(tunnel.reply)).toContain('"url":"/tunnelled"');
    const rows = await logged('roamer', 2);
    expect(rows.filter((r) => r.outcome === 'allowed').map((r) => r.host)).toEqual([
      'api.granted.test',
      'api.granted.test',
    ]);
    expect(rows.every((r) => r.bytesDown > 0)).toBe(true);
  });

  it('refuses every other host with the rule to change, and logs each refusal', async () => {
    const gateway = new URL(gw().url);
    const refusals = [
      { url: 'http://unlisted.test/', reason: 'host_not_granted' },
      { url: 'http://meta.test/latest/meta-data/', reason: 'address_refused' },
      { url: 'http://169.254.169.254/latest/meta-data/', reason: 'host_not_granted' },
      { url: `http://127.0.0.1:${gateway.port}/healthz`, reason: 'host_not_granted' },
      { url: `http://127.0.0.1:${other.port}/`, reason: 'host_not_granted' },
    ];
    for (const { url, reason } of refusals) {
      const answer = await json('roamer', 'egress_http', { url });
      expect(answer, url).toMatchObject({ status: 403, egress: reason });
    }
    const unlisted = await json('roamer', 'egress_http', { url: 'http://unlisted.test/' });
    expect(String(unlisted.body)).toContain('integrations.roamer.outboundHosts');
    const meta = await json('roamer', 'egress_http', { url: 'http://meta.test/' });
    expect(String(meta.body)).toContain('169.254.169.254');
    expect(String(meta.body)).toContain('privateHosts');
    const rows = await logged('roamer', 9, (r) => r.reason === 'address_refused');
    const refused = rows.filter((r) => r.outcome === 'refused');
    expect(refused.length).toBeGreaterThanOrEqual(7);
    expect(refused.map((r) => r.reason)).toContain('address_refused');
  });

  it('refuses another integration’s name with this one’s password (407)', async () => {
    const forged = `Basic ${Buffer.from('jailed:not-its-password').toString('base64')}`;
    const answer = await json('roamer', 'egress_http', {
      url: 'http://api.granted.test/',
      auth: forged,
    });
    expect(answer.status).toBe(407);
  });

  it('originates mTLS with a key only the gateway holds', async () => {
    const env = await json('roamer', 'egress_env', {
      keys: [
        'BANK_CERT',
        'BANK_KEY',
        'BANK_CA',
        'HTTP_PROXY',
        'HTTPS_PROXY',
        'NO_PROXY',
        'https_proxy',
      ],
    });
    expect(env.set).toEqual({
      BANK_CERT: false,
      BANK_KEY: false,
      BANK_CA: false,
      HTTP_PROXY: true,
      HTTPS_PROXY: true,
      NO_PROXY: true,
      https_proxy: true,
    });
    const answer = await json('roamer', 'egress_http', {
      url: 'http://secure.bank.test/statement',
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(String(answer.body))).toEqual({
      client: 'switchboard egress',
      path: '/statement',
    });
    const rows = await logged('roamer', 1, (r) => r.host === 'secure.bank.test');
    expect(rows.find((r) => r.host === 'secure.bank.test')).toMatchObject({
      outcome: 'allowed',
      mtls: true,
    });
  });

  it('an advisory integration can still open a socket past the proxy; an isolated one cannot', async () => {
    const free = await json('roamer', 'direct_connect', { host: '127.0.0.1', port: other.port });
    expect(free).toEqual({ connected: true });
    const jailed = await json('jailed', 'direct_connect', { host: '127.0.0.1', port: other.port });
    expect(jailed.connected).toBe(false);
    const metadata = await json('jailed', 'direct_connect', { host: '169.254.169.254', port: 80 });
    expect(metadata.connected).toBe(false);
    const seen = await json('jailed', 'egress_env', { keys: ['HTTP_PROXY'] });
    expect(seen).toEqual({ set: { HTTP_PROXY: true }, interfaces: ['lo'] });
    // Its one way out is the proxy, which still applies its grant.
    const through = await json('jailed', 'egress_http', { url: 'http://api.granted.test/in-jail' });
    expect(through.status).toBe(200);
    expect(JSON.parse(String(through.body))).toMatchObject({ url: '/in-jail' });
    const refused = await json('jailed', 'egress_http', { url: 'http://unlisted.test/' });
    expect(refused).toMatchObject({ status: 403, egress: 'host_not_granted' });
    const rows = await logged('jailed', 2, (r) => r.outcome === 'refused');
    expect(rows.map((r) => r.outcome).sort()).toEqual(['allowed', 'refused']);
  });

  it('names the task whose own server instance connected', async () => {
    const first = await call('tasked', 'egress_http', { url: 'http://api.granted.test/a' });
    const second = await call('tasked', 'egress_http', { url: 'http://api.granted.test/b' });
    expect(JSON.parse(first.text)).toMatchObject({ status: 200 });
    expect(first.taskId).not.toBe(second.taskId);
    const rows = await logged('tasked', 2);
    expect(rows.map((r) => r.taskId).sort()).toEqual([first.taskId, second.taskId].sort());
    // The shared server of another integration names none.
    expect((await logged('roamer', 1)).every((r) => r.taskId === null)).toBe(true);
  });

  it('gives processes the proxy too, never an mTLS setting, and runs an isolated one in the namespace', async () => {
    const report = (file: string) =>
      until(`a report in ${path.basename(file)}`, async () =>
        fs.existsSync(file)
          ? (JSON.parse(fs.readFileSync(file, 'utf8').split('\n')[0]!) as {
              pid: number;
              env: Record<string, string>;
            })
          : undefined,
      );
    const roamer = await report(roamerReport);
    expect(roamer.env.HTTPS_PROXY).toMatch(/^http:\/\/roamer:[A-Za-z0-9_-]{43}@127\.0\.0\.1:\d+$/);
    expect(roamer.env.BANK_KEY).toBeUndefined();
    expect(roamer.env.BANK_CERT).toBeUndefined();
    expect(roamer.env.REPORT_FILE).toBe(roamerReport);
    const jailed = await report(jailedReport);
    expect(jailed.env.HTTPS_PROXY).toMatch(/^http:\/\/jailed:/);
    // Its network namespace is not the gateway's.
    const netns = (pid: number) => fs.readlinkSync(`/proc/${pid}/ns/net`);
    expect(netns(jailed.pid)).not.toBe(netns(process.pid));
    expect(netns(roamer.pid)).toBe(netns(process.pid));
  });

  it('the weather example reaches its API through the proxy', async () => {
    const answer = await call('weather', 'current_weather', { city: 'London' });
    expect(answer.isError).toBeFalsy();
    expect(answer.text).toContain('London, GB: light rain');
    expect(weather.requests.map((r) => r.path)).toContain('/data/2.5/weather');
    const rows = await logged('weather', 1);
    expect(rows[0]).toMatchObject({
      host: 'api.openweathermap.org',
      port: 80,
      outcome: 'allowed',
    });
  });
});
