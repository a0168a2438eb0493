/**
 * The MCP benchmark of issue 4: `tools/call` calls per second, p50/p99 latency and CPU per call
 * at 1, 16 and 64 concurrent clients, in one run with one load generator, for
 *
 *   (a) the gateway (a real `switchboard start`: token verification, scope check, task:tool_use
 *       events) in front of a stdio server, versus the `mcp-proxy` npm package in front of the
 *       same stdio command;
 *   (b) the gateway in front of an HTTP server, versus calling that server directly;
 *
 * plus token verifications per second, cold and cached (token-bench.ts). Targets are alternated
 * leg by leg and warmed up first, so neither side is favoured. No assertions: it prints a table.
 *
 *   npx tsx test/bench/mcp-bench.ts [--duration 5] [--rounds 3] [--warmup 3] [--concurrency 1,16,64]
 *       [--client raw|sdk] [--only stdio|http] [--profile] [--database-url postgres://…]
 *       [--base DIR (another checkout's gateway, measured alongside)]
 *       [--tracing (this gateway traces every call, exported to a sink in this process)]
 *       [--sampler always_on|parentbased_traceidratio=0.1 (with --tracing; default always_on)]
 *       [--base-self (the base is this checkout, never traced: with --tracing, on vs off)]
 *       [--proxy-arg=--no-eventStore …] [--no-tokens] [--json out.json]
 *
 * See README.md beside this file; the last full run is RESULTS.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBenchGateway } from './gateway.ts';
import type { ClientKind } from './load.ts';
import { type LegResult, runLegs, warmUp } from './mcp-legs.ts';
import { keepProfiles } from './mcp-profile.ts';
import { legLine, legsForJson, logStats, report } from './mcp-report.ts';
import { buildTargets, grantTokens, sanityCheck } from './mcp-targets.ts';
import { measureTokens, type TokenResult, tokenTable } from './mcp-tokens.ts';
import {
  ensureMcpProxy,
  MCP_PROXY_VERSION,
  startHttpUpstream,
  startMcpProxy,
  writeIntegrations,
} from './mcp-upstreams.ts';
import { loadavg } from './measure.ts';
import { type OtlpSink, startOtlpSink } from './otlp-sink.ts';
import { Processes, REPO } from './processes.ts';

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1,16,64' },
    client: { type: 'string', default: 'raw' },
    only: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'database-url': { type: 'string' },
    'proxy-arg': { type: 'string', multiple: true, default: [] },
    tokens: { type: 'boolean', default: true },
    'no-tokens': { type: 'boolean', default: false },
    base: { type: 'string' },
    'base-self': { type: 'boolean', default: false },
    tracing: { type: 'boolean', default: false },
    sampler: { type: 'string', default: 'always_on' },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  process.stdout.write(
    `${fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0]}*/\n`,
  );
  process.exit(0);
}
const DURATION_MS = Number(opts.duration) * 1000;
const ROUNDS = Number(opts.rounds);
const WARMUP_MS = Number(opts.warmup) * 1000;
const LEVELS = opts.concurrency.split(',').map(Number);
const CLIENT = opts.client as ClientKind;
if (CLIENT !== 'raw' && CLIENT !== 'sdk') throw new Error('--client is raw or sdk');
const MAX_CLIENTS = Math.max(...LEVELS);
if (opts.base && opts['base-self']) throw new Error('--base DIR and --base-self: one base only');
const BASE_REPO = opts['base-self'] ? REPO : opts.base ? path.resolve(opts.base) : undefined;
/** What (c) compares, in the report: which gateway traces, and what the base is. */
const BASE_LABEL = opts['base-self']
  ? `this checkout${opts.tracing ? ' with tracing vs this checkout without' : ' vs this checkout'} (--base-self)`
  : `this checkout${opts.tracing ? ' with tracing' : ''} vs the --base checkout`;

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-bench-'));
const processes = new Processes(workDir);
let sink: OtlpSink | undefined;

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadBefore = loadavg();
  if (Number(loadBefore.split(' ')[0]) > 1.5) {
    process.stderr.write(
      `warning: load average ${loadBefore} before the run (> 1.5): the machine is busy; numbers will be noisy\n`,
    );
  }
  ensureMcpProxy();
  const wantStdio = opts.only !== 'http';
  const wantHttp = opts.only !== 'stdio';

  process.stderr.write('starting the HTTP upstream, the gateway and mcp-proxy…\n');
  const httpUpstream = await startHttpUpstream(processes);
  const integrations = writeIntegrations(workDir, httpUpstream.url);
  const gatewayProfiles = path.join(workDir, 'profiles-gateway');
  const proxyProfiles = path.join(workDir, 'profiles-mcp-proxy');
  // --tracing: the gateway under test (never the base) samples every trace and exports it over
  // OTLP/HTTP (http/protobuf, the default) to a sink in this process, so the export's cost is in
  // the measured gateway as it would be with a collector beside it.
  sink = opts.tracing ? await startOtlpSink() : undefined;
  const tracingEnv = (name: string): Record<string, string> | undefined =>
    sink && name === 'gateway'
      ? { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, ...samplerEnv(opts.sampler) }
      : undefined;
  const startGateway = (name: string, repo?: string) =>
    startBenchGateway(processes, {
      name,
      ...(repo && { repo }),
      ...(tracingEnv(name) && { env: tracingEnv(name) }),
      dataDir: path.join(workDir, `data-${name}`),
      integrations,
      databaseUrl: opts['database-url'],
      profileDir: opts.profile && name === 'gateway' ? gatewayProfiles : undefined,
      ready: ['benchstdio', 'benchhttp'],
    });
  const gateway = await startGateway('gateway');
  const proxy = wantStdio
    ? await startMcpProxy(processes, {
        profileDir: opts.profile ? proxyProfiles : undefined,
        proxyArgs: opts['proxy-arg'] ?? [],
      })
    : undefined;
  const grants = await grantTokens(gateway, MAX_CLIENTS);
  // --base DIR: a second gateway from another checkout (say, before a change), measured in the
  // same run and alternated with this one, so a change's effect is not lost in the noise.
  // --base-self: the same with this checkout (with --tracing: tracing on vs off in one run).
  const baseGateway = BASE_REPO ? await startGateway('gateway-base', BASE_REPO) : undefined;
  const base = baseGateway
    ? { gateway: baseGateway, grants: await grantTokens(baseGateway, MAX_CLIENTS) }
    : undefined;
  const { targets, groups } = buildTargets({
    gateway,
    grants,
    base,
    proxy,
    httpUpstream,
    wantHttp,
  });
  for (const t of targets) await sanityCheck(t);

  let tokenResult: TokenResult | undefined;
  if (opts.tokens && !opts['no-tokens']) {
    process.stderr.write('token verification (token-bench.ts)…\n');
    tokenResult = measureTokens(opts['database-url']);
  }

  process.stderr.write(`warm-up (${WARMUP_MS} ms per target, twice)…\n`);
  await warmUp(targets, { ms: WARMUP_MS, maxClients: MAX_CLIENTS, client: CLIENT });

  const results: LegResult[] = await runLegs(
    groups,
    {
      levels: LEVELS,
      rounds: ROUNDS,
      onLeg: (t, r) => process.stderr.write(legLine(t, r)),
    },
    { client: CLIENT, durationMs: DURATION_MS, processes },
  );
  const loadAfter = loadavg();
  const finishedAt = new Date();

  const lines = [
    `# mcp-bench ${startedAt.toISOString()} → ${finishedAt.toISOString()}`,
    '',
    `command: npx tsx test/bench/mcp-bench.ts ${process.argv.slice(2).join(' ')}`.trim(),
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.type()} ${os.release()}`,
    `load average: before ${loadBefore}, after ${loadAfter}`,
    `client: ${CLIENT === 'raw' ? 'raw JSON-RPC over node:http, 2025-era handshake (2025-11-25), one keep-alive connection per client' : 'v2 SDK Client, StreamableHTTPClientTransport, 2025 handshake'}; ${DURATION_MS / 1000} s per leg, ${ROUNDS} rounds per level, targets alternated`,
    `gateway: switchboard start, LOG_LEVEL=info, ${opts['database-url'] ? 'PostgreSQL' : 'embedded PGlite'}${opts.profile ? ', --cpu-prof (slower!)' : ''}; one token per client (${MAX_CLIENTS} tasks)`,
    ...(sink ? [tracingLine(sink)] : []),
    `mcp-proxy ${MCP_PROXY_VERSION}: --server stream ${(opts['proxy-arg'] ?? []).join(' ')}`.trim(),
    logStats(gateway.proc),
    ...(baseGateway ? [logStats(baseGateway.proc)] : []),
    '',
    report(results, targets, LEVELS, BASE_LABEL),
  ];
  if (tokenResult) lines.push(...tokenTable(tokenResult));
  process.stdout.write(`${lines.join('\n')}\n`);
  if (opts.json) {
    fs.writeFileSync(
      opts.json,
      JSON.stringify(
        {
          startedAt,
          finishedAt,
          loadBefore,
          loadAfter,
          tokens: tokenResult,
          legs: legsForJson(results),
        },
        null,
        2,
      ),
    );
  }
  if (opts.profile) {
    await processes.stopAll();
    keepProfiles({
      gatewayPid: gateway.proc.pid,
      profileDirs: [
        ['gateway', gatewayProfiles],
        ['mcp-proxy', proxyProfiles],
      ],
      results,
    });
  }
}

/**
 * What the sink heard, read when the legs are done: a zero means the gateway did not trace (the
 * batch processor exports every 5 s or 512 spans, so a run of legs sends many requests).
 */
/** `always_on`, or `<sampler>=<ratio>` (e.g. parentbased_traceidratio=0.1): the OTEL_* pair. */
function samplerEnv(sampler: string): Record<string, string> {
  const [name, ratio] = sampler.split('=');
  return {
    OTEL_TRACES_SAMPLER: name!,
    ...(ratio !== undefined && { OTEL_TRACES_SAMPLER_ARG: ratio }),
  };
}

function tracingLine(sink: OtlpSink): string {
  const c = sink.counts();
  return `tracing (gateway only): OTEL_EXPORTER_OTLP_ENDPOINT=${sink.url} (http/protobuf), sampler ${opts.sampler}; the sink heard ${c.traceRequests} POST /v1/traces, ${(c.traceBytes / 2 ** 20).toFixed(1)} MiB${c.otherRequests ? `, ${c.otherRequests} other requests` : ''}`;
}

try {
  await main();
} finally {
  await processes.stopAll();
  await sink?.close();
  fs.rmSync(workDir, { recursive: true, force: true });
}
