/**
 * The egress proxy (issue 21): what going through it costs an integration's HTTP client, against
 * the same client going straight to the upstream, in this one process (client, proxy and a
 * loopback upstream; no database: records are counted, not written).
 *
 *   npx tsx --conditions=switchboard-source test/bench/egress-bench.ts [--duration 4] [--concurrency 16]
 *
 * Legs, each for --duration seconds at --concurrency requests in flight (undici clients):
 * - keep-alive: GETs over pooled connections, direct vs through a CONNECT tunnel (what HTTPS
 *   clients do; the proxy is on the path only when a connection opens, then it copies bytes);
 * - forwarded: plain-HTTP GETs in absolute form, one upstream connection each (what an
 *   `http://` URL through HTTP_PROXY does, and what mTLS origination does);
 * - new connections: every request on a new connection, direct vs a new CONNECT each (the
 *   proxy's whole admission: credentials, grant, lookup, address checks, connect, record).
 * Prints requests/s, the ratio to direct, and this process's CPU µs per request.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Agent, ProxyAgent, request } from 'undici';
import { startEgressProxy } from '../../gateway/src/egress/proxy.ts';
import { createLogger } from '../../gateway/src/log.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '16' },
  },
});
const DURATION_MS = Number(values.duration) * 1000;
const CONCURRENCY = Number(values.concurrency);

const BODY = Buffer.alloc(1024, 0x61);
const upstream = http.createServer((_req, res) => {
  res.setHeader('content-type', 'application/octet-stream');
  res.end(BODY);
});
upstream.keepAliveTimeout = 60_000;
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
const port = (upstream.address() as AddressInfo).port;
const target = `http://127.0.0.1:${port}/`;

let records = 0;
const proxy = await startEgressProxy({
  secret: Buffer.alloc(32, 7),
  grantOf: () => ({
    hosts: [`127.0.0.1:${port}`],
    privateHosts: [`127.0.0.1:${port}`],
    mtls: [],
  }),
  record: () => {
    records += 1;
  },
  limits: {
    connectTimeoutMs: 10_000,
    maxDurationMs: 3_600_000,
    idleTimeoutMs: 120_000,
    maxBytes: 2 ** 40,
    maxConnectionsPerIntegration: 10_000,
  },
  log: createLogger('silent'),
  gatewayAddresses: () => [],
});
const proxyUrl = proxy.proxyUrl('bench');

interface Leg {
  name: string;
  run: () => Promise<void>;
}

async function measure(leg: Leg): Promise<{ rate: number; cpuUs: number }> {
  const warm = Date.now() + 500;
  while (Date.now() < warm) await leg.run();
  let done = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const end = started + DURATION_MS;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        await leg.run();
        done += 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { rate: done / seconds, cpuUs: (used.user + used.system) / done };
}

const get = async (dispatcher: Agent | ProxyAgent, reset = false) => {
  const res = await request(target, { dispatcher, reset });
  await res.body.arrayBuffer();
};

const keepDirect = new Agent({ connections: CONCURRENCY });
const keepTunnel = new ProxyAgent({ uri: proxyUrl, connections: CONCURRENCY });
const newDirect = new Agent({ pipelining: 0 });
const newTunnel = new ProxyAgent({ uri: proxyUrl, pipelining: 0 });
// Absolute form: a plain-HTTP request to the proxy itself, as HTTP_PROXY clients send http://.
const auth = new URL(proxyUrl);
const proxyAuth = `Basic ${Buffer.from(`${decodeURIComponent(auth.username)}:${auth.password}`).toString('base64')}`;
const toProxy = new Agent({ connections: CONCURRENCY });
const forwarded = async () => {
  const res = await toProxy.request({
    origin: `http://127.0.0.1:${proxy.port}`,
    path: target,
    method: 'GET',
    headers: { 'proxy-authorization': proxyAuth, host: `127.0.0.1:${port}` },
  });
  await res.body.arrayBuffer();
};

const legs: Array<[string, Leg, Leg]> = [
  [
    'keep-alive (CONNECT tunnel)',
    { name: 'direct', run: () => get(keepDirect) },
    { name: 'proxy', run: () => get(keepTunnel) },
  ],
  [
    'forwarded (absolute form)',
    { name: 'direct', run: () => get(keepDirect) },
    { name: 'proxy', run: forwarded },
  ],
  [
    'new connection each',
    { name: 'direct', run: () => get(newDirect, true) },
    { name: 'proxy', run: () => get(newTunnel, true) },
  ],
];

const rows: string[] = [];
for (const [name, direct, through] of legs) {
  const a = await measure(direct);
  const b = await measure(through);
  rows.push(
    `| ${name} | ${a.rate.toFixed(0)} | ${b.rate.toFixed(0)} | ${(b.rate / a.rate).toFixed(2)}× | ${a.cpuUs.toFixed(0)} | ${b.cpuUs.toFixed(0)} |`,
  );
}
await Promise.all([keepDirect, keepTunnel, newDirect, newTunnel, toProxy].map((d) => d.close()));
console.log(
  `egress bench: ${DURATION_MS / 1000} s per leg, ${CONCURRENCY} in flight, 1 KiB answers, Node ${process.versions.node}, load average ${os.loadavg()[0]?.toFixed(2)}, ${records} connections recorded`,
);
console.log(
  '| leg | direct req/s | through the proxy req/s | ratio | CPU µs/req direct | CPU µs/req proxy |',
);
console.log('|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
await proxy.close();
upstream.close();
