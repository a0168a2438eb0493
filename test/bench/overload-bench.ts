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
 * The legs run interleaved on both gateways, `--rounds` times. No assertions.
 * `npx tsx test/bench/overload-bench.ts [--limit 32] [--seconds 10] [--rounds 2]
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
import { Processes, REPO } from './processes.ts';

const { values: args } = parseArgs({
  options: {
    limit: { type: 'string', default: '32' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    'database-url': { type: 'string' },
  },
});
const LIMIT = Number(args.limit);
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const DATABASE_URL = args['database-url'] ?? process.env.DATABASE_URL;
const SHED_PAUSE_MS = 50;
const ECHO_STDIO = path.join(REPO, 'test/bench/fixtures/echo-stdio.mjs');

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
        server: { transport: 'stdio', command: 'node', args: [ECHO_STDIO] },
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

/** Cumulative counts of the answered tools/calls (status 200) by `le` bucket, in seconds. */
type Buckets = Map<number, number>;

async function okBuckets(gw: BenchGateway): Promise<Buckets> {
  const text = await (
    await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })
  ).text();
  const out: Buckets = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith('http_request_duration_seconds_bucket{')) continue;
    if (!line.includes('method="POST"') || !line.includes('status="200"')) continue;
    if (!line.includes('route="/mcp/:integration"')) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (!le) continue;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    out.set(bound, (out.get(bound) ?? 0) + Number(line.split(' ').pop()));
  }
  return out;
}

const diff = (after: Buckets, before: Buckets): Buckets =>
  new Map([...after].map(([le, n]) => [le, n - (before.get(le) ?? 0)]));
const sum = (a: Buckets, b: Buckets): Buckets =>
  new Map([...a].map(([le, n]) => [le, n + (b.get(le) ?? 0)]));

/** The upper bound (ms) of the bucket holding quantile `q`: the gateway's own time, coarsely. */
function bucketQuantile(buckets: Buckets, q: number): string {
  const all = buckets.get(Number.POSITIVE_INFINITY) ?? 0;
  if (all === 0) return '–';
  for (const [le, n] of [...buckets].sort((a, b) => a[0] - b[0])) {
    if (n >= q * all) return le === Number.POSITIVE_INFINITY ? '>30000' : String(le * 1000);
  }
  return '–';
}

function merge(legs: Leg[]): Leg {
  const leg: Leg = {
    okMs: legs.flatMap((l) => l.okMs).sort((a, b) => a - b),
    shedMs: legs.flatMap((l) => l.shedMs).sort((a, b) => a - b),
    errors: legs.reduce((n, l) => n + l.errors, 0),
    seconds: legs.reduce((n, l) => n + l.seconds, 0),
  };
  return leg;
}

const ms = (n: number) => (Number.isNaN(n) ? '–' : n.toFixed(1));

function row(name: string, clients: number, leg: Leg, own: string): string {
  const total = leg.okMs.length + leg.shedMs.length + leg.errors;
  return tableRow(
    name,
    clients,
    Math.round(leg.okMs.length / leg.seconds),
    ms(quantile(leg.okMs, 0.5)),
    ms(quantile(leg.okMs, 0.99)),
    own,
    total === 0 ? '–' : `${((100 * leg.shedMs.length) / total).toFixed(1)} %`,
    ms(quantile(leg.shedMs, 0.5)),
    ms(quantile(leg.shedMs, 0.99)),
    leg.errors,
  );
}

async function gatewayWith(
  procs: Processes,
  name: string,
  limit: number,
  integrations: ReturnType<typeof writeIntegrations>,
) {
  return startBenchGateway(procs, {
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
  // Both up at once and the legs interleaved, round after round: a busy machine's drift falls on
  // every leg alike (the idle gateway costs nothing meanwhile).
  const shedding = await gatewayWith(processes, 'gateway', LIMIT, integrations);
  const unshedding = await gatewayWith(processes2, 'gateway-unshed', 0, integrations);
  const e = await endpoints(shedding);
  const u = await endpoints(unshedding);
  // Warm-up: the upstreams, the JIT, the pool.
  for (const x of [e, u]) {
    await drive(x.echo.url, x.echo.token, 4, 2);
    await drive(x.limited.url, x.limited.token, 4, 2);
  }
  const unlimited1 = await drive(e.echo.url, e.echo.token, 1, Math.max(3, SECONDS / 2));
  const limited1 = await drive(e.limited.url, e.limited.token, 1, Math.max(3, SECONDS / 2));
  const legs = { baseline: [] as Leg[], overload: [] as Leg[], unshed: [] as Leg[] };
  const own = { baseline: [] as Buckets[], overload: [] as Buckets[], unshed: [] as Buckets[] };
  const measured = async (gw: BenchGateway, run: () => Promise<Leg>, into: keyof typeof legs) => {
    const before = await okBuckets(gw);
    legs[into].push(await run());
    own[into].push(diff(await okBuckets(gw), before));
  };
  for (let round = 0; round < ROUNDS; round++) {
    await measured(shedding, () => drive(e.echo.url, e.echo.token, LIMIT, SECONDS), 'baseline');
    await measured(shedding, () => drive(e.echo.url, e.echo.token, 4 * LIMIT, SECONDS), 'overload');
    await measured(unshedding, () => drive(u.echo.url, u.echo.token, 4 * LIMIT, SECONDS), 'unshed');
  }
  const shedTime = await shedServerTime(shedding);
  const baseline = merge(legs.baseline);
  const overload = merge(legs.overload);
  const unshed = merge(legs.unshed);
  const ownP99 = (k: keyof typeof own) => bucketQuantile(own[k].reduce(sum), 0.99);
  const ownP50 = (k: keyof typeof own) => bucketQuantile(own[k].reduce(sum), 0.5);

  const db = DATABASE_URL ? 'PostgreSQL' : 'embedded PGlite';
  const p99 = (leg: Leg) => quantile(leg.okMs, 0.99);
  const lines = [
    `Overload bench, ${started}, ${db}, Node ${process.version}, ${os.cpus().length} CPUs, load ${load0} → ${loadavg()}`,
    `admission limit L = ${LIMIT}, ${ROUNDS} rounds of ${SECONDS} s legs, shed clients pause ${SHED_PAUSE_MS} ms`,
    '',
    ...tableHead(
      'leg',
      'clients',
      'calls/s',
      'p50 ms',
      'p99 ms',
      "gateway's own p50 / p99 ≤ ms",
      '503',
      '503 p50 ms',
      '503 p99 ms',
      'errors',
    ),
    row(
      'baseline (L, shedding on)',
      LIMIT,
      baseline,
      `${ownP50('baseline')} / ${ownP99('baseline')}`,
    ),
    row(
      'overload (4L, shedding on)',
      4 * LIMIT,
      overload,
      `${ownP50('overload')} / ${ownP99('overload')}`,
    ),
    row(
      'overload (4L, shedding off)',
      4 * LIMIT,
      unshed,
      `${ownP50('unshed')} / ${ownP99('unshed')}`,
    ),
    '',
    `accepted p99 / baseline p99: ${(p99(overload) / p99(baseline)).toFixed(2)} with shedding, ` +
      `${(p99(unshed) / p99(baseline)).toFixed(2)} without`,
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
