/**
 * The overload benchmark of issue 19: does a gateway driven far past what it can serve keep the
 * latency of the calls it accepts, shedding the rest with fast 503s, instead of growing every
 * caller's latency with its queue? One real `switchboard start` with an admission limit of L
 * (SWITCHBOARD_MAX_CONCURRENT_REQUESTS) serves the bench's stdio `echo` server; closed-loop
 * clients call it over keep-alive HTTP (plain JSON-RPC tools/call, as load.ts's raw client):
 *
 * - rate limit: at one client, the p50 of calls to an integration without a rate limit and to
 *   the same server with one that never refuses (1,000,000 a minute): the added latency of the
 *   per-task bucket (a statement on PostgreSQL, a Map on PGlite);
 * - baseline: L clients (at capacity, none shed);
 * - overload: 4 × L clients, excess answered 503 `overloaded` (each shed client pauses
 *   SHED_PAUSE_MS, well under the Retry-After of 1 s: an impatient client);
 * - unshed: the same 4 × L against a second gateway with shedding off, for contrast.
 *
 * It prints p50/p99 of accepted calls in each leg, the 503 share and latency, and the ratios.
 * No assertions. `npx tsx test/bench/overload-bench.ts [--limit 32] [--seconds 10]
 * [--database-url postgres://…]` (npm run bench:overload).
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { ADMIN_KEY, type BenchGateway, grantExternalTask, startBenchGateway } from './gateway.ts';
import { tableHead, tableRow } from './markdown.ts';
import { loadavg, quantile } from './measure.ts';
import { Processes, REPO, TSX_LOADER } from './processes.ts';

const { values: args } = parseArgs({
  options: {
    limit: { type: 'string', default: '32' },
    seconds: { type: 'string', default: '10' },
    'database-url': { type: 'string' },
  },
});
const LIMIT = Number(args.limit);
const SECONDS = Number(args.seconds);
const DATABASE_URL = args['database-url'] ?? process.env.DATABASE_URL;
const SHED_PAUSE_MS = 50;
const ECHO_STDIO = path.join(REPO, 'test/bench/fixtures/echo-stdio.ts');

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-overload-bench-'));
const processes = new Processes(workDir);
/** The second gateway's (shedding off), started once the first has stopped. */
const processes2 = new Processes(workDir);

function writeIntegrations(): { dirs: string; policy: string } {
  const root = path.join(workDir, 'integrations');
  for (const name of ['echo', 'limited']) {
    fs.mkdirSync(path.join(root, name), { recursive: true });
    fs.writeFileSync(
      path.join(root, name, 'switchboard.yaml'),
      stringify({
        apiVersion: 'switchboard/v1',
        name,
        version: '1.0.0',
        description: 'Bench echo server (stdio)',
        server: { transport: 'stdio', command: 'node', args: ['--import', TSX_LOADER, ECHO_STDIO] },
      }),
    );
  }
  const policy = path.join(workDir, 'policy.yaml');
  fs.writeFileSync(
    policy,
    stringify({
      apiVersion: 'switchboard/policy/v1',
      integrations: {
        echo: { enabled: true },
        limited: { enabled: true, rateLimit: { requestsPerMinute: 1_000_000 } },
      },
      // One task drives every client: its in-flight cap must not be what refuses.
      tokens: { defaultTtl: '2h', maxTtl: '2h', maxInFlight: 10_000 },
    }),
  );
  return { dirs: root, policy };
}

interface Leg {
  okMs: number[];
  shedMs: number[];
  errors: number;
  seconds: number;
}

/** `clients` closed loops of tools/call to `url` for `seconds`. */
async function drive(url: URL, token: string, clients: number, seconds: number): Promise<Leg> {
  const leg: Leg = { okMs: [], shedMs: [], errors: 0, seconds };
  const deadline = performance.now() + seconds * 1000;
  const loop = async (n: number) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let id = 0;
    while (performance.now() < deadline) {
      id += 1;
      const message = `c${n}m${id}`;
      const started = performance.now();
      const { status, text } = await post(agent, url, token, {
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'echo', arguments: { message } },
      }).catch(() => ({ status: 0, text: '' }));
      const ms = performance.now() - started;
      if (status === 200 && text.includes(`"text":"${message}"`)) leg.okMs.push(ms);
      else if (status === 503 && text.includes('overloaded')) {
        leg.shedMs.push(ms);
        await new Promise((r) => setTimeout(r, SHED_PAUSE_MS));
      } else leg.errors += 1;
    }
    agent.destroy();
  };
  await Promise.all(Array.from({ length: clients }, (_, n) => loop(n)));
  leg.okMs.sort((a, b) => a - b);
  leg.shedMs.sort((a, b) => a - b);
  return leg;
}

function post(
  agent: http.Agent,
  url: URL,
  token: string,
  body: unknown,
): Promise<{ status: number; text: string }> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-11-25',
          'content-length': Buffer.byteLength(data),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/**
 * The gateway's own time for its 503s (http_request_duration_seconds, from the request's first
 * middleware to its answer): the share answered within 1 ms and 5 ms, without the client's and
 * the kernel's queues that the client-side latency includes.
 */
async function shedServerTime(gw: BenchGateway): Promise<string> {
  const text = await (
    await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })
  ).text();
  const bucket = (le: string) =>
    text
      .split('\n')
      .filter(
        (l) => l.startsWith('http_request_duration_seconds_bucket{') && l.includes('status="503"'),
      )
      .filter((l) => l.includes(`le="${le}"`))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  const all = bucket('+Inf');
  if (all === 0) return 'no 503s';
  const pct = (n: number) => `${((100 * n) / all).toFixed(1)} %`;
  return `${all} 503s: ${pct(bucket('0.001'))} within 1 ms, ${pct(bucket('0.005'))} within 5 ms of the gateway's own time`;
}

const ms = (n: number) => (Number.isNaN(n) ? '–' : n.toFixed(1));

function row(name: string, clients: number, leg: Leg): string {
  const total = leg.okMs.length + leg.shedMs.length + leg.errors;
  return tableRow(
    name,
    clients,
    Math.round(leg.okMs.length / leg.seconds),
    ms(quantile(leg.okMs, 0.5)),
    ms(quantile(leg.okMs, 0.99)),
    total === 0 ? '–' : `${((100 * leg.shedMs.length) / total).toFixed(1)} %`,
    ms(quantile(leg.shedMs, 0.5)),
    ms(quantile(leg.shedMs, 0.99)),
    leg.errors,
  );
}

async function gatewayWith(
  name: string,
  limit: number,
  integrations: ReturnType<typeof writeIntegrations>,
) {
  return startBenchGateway(processes, {
    name,
    dataDir: path.join(workDir, `${name}-data`),
    integrations,
    databaseUrl: DATABASE_URL,
    env: { LOG_LEVEL: 'warn', SWITCHBOARD_MAX_CONCURRENT_REQUESTS: String(limit) },
    ready: ['echo', 'limited'],
  });
}

async function endpoints(gw: BenchGateway) {
  const granted = await grantExternalTask(gw, ['echo:*', 'limited:*']);
  const of = (name: string) => {
    const found = granted.integrations.find((i) => i.name === name);
    if (!found) throw new Error(`no token for ${name}`);
    return { url: new URL(found.url), token: found.token };
  };
  return { echo: of('echo'), limited: of('limited') };
}

try {
  const integrations = writeIntegrations();
  const started = new Date().toISOString();
  const load0 = loadavg();
  const shedding = await gatewayWith('gateway', LIMIT, integrations);
  const e = await endpoints(shedding);
  // Warm-up: the upstreams, the JIT, the pool.
  await drive(e.echo.url, e.echo.token, 4, 2);
  await drive(e.limited.url, e.limited.token, 4, 2);
  const unlimited1 = await drive(e.echo.url, e.echo.token, 1, Math.max(3, SECONDS / 2));
  const limited1 = await drive(e.limited.url, e.limited.token, 1, Math.max(3, SECONDS / 2));
  const baseline = await drive(e.echo.url, e.echo.token, LIMIT, SECONDS);
  const overload = await drive(e.echo.url, e.echo.token, 4 * LIMIT, SECONDS);
  const shedTime = await shedServerTime(shedding);
  await processes.stopAll();

  const unshedGw = await startBenchGateway(processes2, {
    name: 'gateway-unshed',
    dataDir: path.join(workDir, 'unshed-data'),
    integrations,
    databaseUrl: DATABASE_URL,
    env: { LOG_LEVEL: 'warn', SWITCHBOARD_MAX_CONCURRENT_REQUESTS: '0' },
    ready: ['echo', 'limited'],
  });
  const u = await endpoints(unshedGw);
  await drive(u.echo.url, u.echo.token, 4, 2);
  const unshedBaseline = await drive(u.echo.url, u.echo.token, LIMIT, SECONDS);
  const unshed = await drive(u.echo.url, u.echo.token, 4 * LIMIT, SECONDS);
  await processes2.stopAll();

  const db = DATABASE_URL ? 'PostgreSQL' : 'embedded PGlite';
  const lines = [
    `Overload bench, ${started}, ${db}, Node ${process.version}, ${os.cpus().length} CPUs, load ${load0} → ${loadavg()}`,
    `admission limit L = ${LIMIT}, ${SECONDS} s a leg, shed clients pause ${SHED_PAUSE_MS} ms`,
    '',
    ...tableHead(
      'leg',
      'clients',
      'calls/s',
      'p50 ms',
      'p99 ms',
      '503',
      '503 p50 ms',
      '503 p99 ms',
      'errors',
    ),
    row('baseline (L, shedding on)', LIMIT, baseline),
    row('overload (4L, shedding on)', 4 * LIMIT, overload),
    row('baseline (L, shedding off)', LIMIT, unshedBaseline),
    row('overload (4L, shedding off)', 4 * LIMIT, unshed),
    '',
    `accepted p99, overload / baseline: ${(quantile(overload.okMs, 0.99) / quantile(baseline.okMs, 0.99)).toFixed(2)} with shedding, ` +
      `${(quantile(unshed.okMs, 0.99) / quantile(unshedBaseline.okMs, 0.99)).toFixed(2)} without`,
    `shed requests, server side: ${shedTime}`,
    `rate limit (C = 1): p50 ${ms(quantile(unlimited1.okMs, 0.5))} ms without, ${ms(quantile(limited1.okMs, 0.5))} ms with ` +
      `(+${ms(quantile(limited1.okMs, 0.5) - quantile(unlimited1.okMs, 0.5))} ms); ` +
      `p99 ${ms(quantile(unlimited1.okMs, 0.99))} → ${ms(quantile(limited1.okMs, 0.99))} ms; ` +
      `${Math.round(unlimited1.okMs.length / unlimited1.seconds)} → ${Math.round(limited1.okMs.length / limited1.seconds)} calls/s`,
  ];
  console.log(lines.join('\n'));
} finally {
  await processes.stopAll();
  await processes2.stopAll();
  fs.rmSync(workDir, { recursive: true, force: true });
}
