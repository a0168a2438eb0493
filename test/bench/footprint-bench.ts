/**
 * The footprint benchmark of issue 20: the gateway's resident memory over a run, and its cold
 * start. One real `switchboard start` (a fresh data dir, `switchboard migrate` first; a fresh
 * database on the `--database-url` server for PostgreSQL, dropped after) with the stdio echo
 * integration of mcp-bench (mcp-upstreams.ts). The gateway's VmRSS is read from /proc every
 * 250 ms through these phases:
 *
 * - `ready`: idle for `--settle` s after its integrations are ready;
 * - `calls 1`, `calls 2`: `--calls` tools/call of `benchstdio/echo` each, `--concurrency`
 *   closed-loop raw clients (load.ts) with a task token each; two batches, so that "flat" can
 *   be read as the second batch's end against the first's;
 * - `tokens`: `--tokens` more external tasks granted, each token used once (initialize and a
 *   call), so that each is verified and cached as an agent's would be; all stay live;
 * - `streams`: `--streams` 2025-era GET SSE streams held open on the aggregate `/mcp` (the
 *   standalone stream list_changed travels on), each with its own task's token;
 * - `closed`: the streams closed, idle for `--settle` s.
 *
 * Then the gateway is stopped and started again `--cold` times on the same data dir: from the
 * launch of `switchboard start` to the first `/readyz` 200 (polled every 20 ms), and its RSS
 * then. Prints Markdown; asserts nothing.
 *
 *   npx tsx test/bench/footprint-bench.ts [--database-url postgres://…/test] [--calls 5000]
 *       [--tokens 1000] [--streams 200] [--concurrency 16] [--settle 5] [--cold 3]
 *       [--series 5] [--node-options='--max-semi-space-size=4'] [--env MALLOC_ARENA_MAX=2]
 *
 * `--node-options` is the gateway's NODE_OPTIONS and `--env NAME=VALUE` (repeatable) more of its environment (V8 flags, a `--require` that logs
 * process.memoryUsage()); `--series` the seconds between two rows of the RSS-over-time table.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { phaseTable, readMemory, Sampler, seriesTable } from './footprint-memory.ts';
import { type BenchGateway, grantExternalTask, startBenchGateway } from './gateway.ts';
import { type BenchClient, connectClient, PROTOCOL_VERSION } from './load.ts';
import { tableHead, tableRow } from './markdown.ts';
import { startHttpUpstream, writeIntegrations } from './mcp-upstreams.ts';
import { loadavg, quantile } from './measure.ts';
import { Processes } from './processes.ts';

const { values: opts } = parseArgs({
  options: {
    'database-url': { type: 'string' },
    calls: { type: 'string', default: '5000' },
    tokens: { type: 'string', default: '1000' },
    streams: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '16' },
    settle: { type: 'string', default: '5' },
    cold: { type: 'string', default: '3' },
    series: { type: 'string', default: '5' },
    'node-options': { type: 'string' },
    env: { type: 'string', multiple: true },
  },
});
const CALLS = Number(opts.calls);
const TOKENS = Number(opts.tokens);
const STREAMS = Number(opts.streams);
const CONCURRENCY = Number(opts.concurrency);
const SETTLE_MS = Number(opts.settle) * 1000;
const COLD = Number(opts.cold);
const SCOPE = ['benchstdio:*'];

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-footprint-bench-'));
const processes = new Processes(workDir);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `work` over `items` with `width` at a time. */
async function pool<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

async function endpointOf(gw: BenchGateway) {
  const g = await grantExternalTask(gw, SCOPE);
  const own = g.integrations.find((i) => i.name === 'benchstdio')!;
  return { url: new URL(own.url), token: own.token, tool: 'echo', aggregate: g.mcp };
}

/** `calls` tools/call over `CONCURRENCY` clients with a token each. */
async function calls(gw: BenchGateway, total: number): Promise<number> {
  const clients: BenchClient[] = [];
  for (let i = 0; i < CONCURRENCY; i++) {
    clients.push(await connectClient('raw', await endpointOf(gw), `c${i}`));
  }
  const started = performance.now();
  let left = total;
  await Promise.all(
    clients.map(async (client) => {
      while (left > 0) {
        left -= 1;
        await client.call();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(clients.map((c) => c.close()));
  return total / seconds;
}

/** A 2025-era GET on `/mcp`: resolves once the gateway has answered 200 text/event-stream. */
function openStream(url: string, token: string): Promise<http.ClientRequest> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, {
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'text/event-stream',
        'mcp-protocol-version': PROTOCOL_VERSION,
      },
    });
    req.once('response', (res) => {
      const type = res.headers['content-type'] ?? '';
      if (res.statusCode !== 200 || !type.includes('text/event-stream')) {
        res.resume();
        reject(new Error(`GET /mcp: HTTP ${res.statusCode} ${type}`));
        return;
      }
      res.resume();
      res.once('error', () => {});
      resolve(req);
    });
    req.once('error', reject);
  });
}

async function createDatabase(base: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `switchboard_bench_${randomBytes(4).toString('hex')}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

async function stopGateway(gw: BenchGateway): Promise<void> {
  gw.proc.child.kill('SIGTERM');
  await gw.proc.exited;
}

async function main(): Promise<void> {
  const database = opts['database-url'] ? await createDatabase(opts['database-url']) : undefined;
  const out: string[] = [];
  try {
    const upstream = await startHttpUpstream(processes);
    const integrations = writeIntegrations(workDir, upstream.url);
    const dataDir = path.join(workDir, 'data');
    const gatewayOptions = {
      dataDir,
      integrations,
      databaseUrl: database?.url,
      env: {
        LOG_LEVEL: 'warn',
        ...(opts['node-options'] && { NODE_OPTIONS: opts['node-options'] }),
        ...Object.fromEntries((opts.env ?? []).map((e) => e.split(/=(.*)/s).slice(0, 2))),
      },
      ready: ['benchstdio'],
    };
    const load0 = loadavg();
    const gw = await startBenchGateway(processes, gatewayOptions);
    const sampler = new Sampler(gw.proc.pid);
    const notes: Record<string, string> = {};

    sampler.enter('ready');
    await sleep(SETTLE_MS);
    for (const batch of ['calls 1', 'calls 2']) {
      sampler.enter(batch);
      const rate = await calls(gw, CALLS);
      notes[batch] = `${CALLS} calls, ${CONCURRENCY} clients, ${rate.toFixed(0)} calls/s`;
    }

    sampler.enter('tokens');
    const granted: Array<Awaited<ReturnType<typeof endpointOf>>> = [];
    await pool(
      Array.from({ length: TOKENS }, (_, i) => i),
      CONCURRENCY,
      async (i) => {
        const endpoint = await endpointOf(gw);
        granted.push(endpoint);
        const client = await connectClient('raw', endpoint, `t${i}`);
        await client.call();
        await client.close();
      },
    );
    notes.tokens = `${granted.length} external tasks granted, each token used once, all live`;

    sampler.enter('streams');
    const streams: http.ClientRequest[] = [];
    await pool(granted.slice(0, STREAMS), CONCURRENCY, async (g) => {
      streams.push(await openStream(g.aggregate.url, g.aggregate.token));
    });
    await sleep(SETTLE_MS);
    notes.streams = `${streams.length} GET SSE streams open on /mcp`;

    sampler.enter('closed');
    for (const req of streams) req.destroy();
    await sleep(SETTLE_MS);
    notes.closed = `streams closed, ${SETTLE_MS / 1000} s idle`;
    sampler.take();
    sampler.stop();
    await stopGateway(gw);

    const cold: Array<{ ms: number; rssKb: number }> = [];
    for (let i = 0; i < COLD; i++) {
      const again = await startBenchGateway(processes, {
        ...gatewayOptions,
        name: `gateway-cold-${i}`,
        migrate: false,
      });
      cold.push({ ms: again.readyMs, rssKb: readMemory(again.proc.pid)?.rssKb ?? Number.NaN });
      await stopGateway(again);
    }

    const kind = database ? 'PostgreSQL' : 'embedded PGlite';
    out.push(
      `## Gateway footprint: ${kind}, ${os.cpus().length} cores, node ${process.version}, load ${load0} → ${loadavg()}`,
      '',
      ...phaseTable(sampler.samples, notes),
      '',
      ...tableHead('cold start (existing data dir)', 'median', 'runs', 'RSS at ready (MB)'),
      tableRow(
        'launch → /readyz 200 (ms)',
        quantile(
          cold.map((c) => c.ms).sort((a, b) => a - b),
          0.5,
        ).toFixed(0),
        cold.map((c) => c.ms.toFixed(0)).join(', '),
        cold.map((c) => (c.rssKb / 1024).toFixed(0)).join(', '),
      ),
      '',
      '<details><summary>RSS over time</summary>',
      '',
      ...seriesTable(sampler.samples, Number(opts.series)),
      '',
      '</details>',
    );
  } finally {
    await processes.stopAll();
    await database?.drop();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

await main();
