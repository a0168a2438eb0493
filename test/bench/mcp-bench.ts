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
 *       [--proxy-arg=--no-eventStore …] [--no-tokens] [--json out.json]
 *
 * See README.md beside this file; the last full run is RESULTS.md.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { stringify } from 'yaml';
import { descendants, freePort } from '../helpers/processes.ts';
import { type BenchClient, type ClientKind, connectClient, type Endpoint } from './load.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CACHE = path.join(REPO, '.cache/bench');
const MCP_PROXY_VERSION = '6.7.19';
const MCP_PROXY_BIN = path.join(CACHE, 'node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs');
const TSX_LOADER = path.join(REPO, 'node_modules/tsx/dist/loader.mjs');
const ECHO_STDIO = path.join(REPO, 'test/bench/fixtures/echo-stdio.ts');
const ECHO_HTTP = path.join(REPO, 'test/bench/fixtures/echo-http.ts');
/** The one stdio command both the gateway and mcp-proxy run. */
const STDIO_COMMAND = ['node', '--import', TSX_LOADER, ECHO_STDIO];
const ADMIN_KEY = `bench-admin-key-${'0123456789abcdef'.repeat(3)}`;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

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

// ---------------------------------------------------------------------------------------------
// Processes

interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  exited: Promise<void>;
  logFile: string;
}

const procs: Proc[] = [];
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-bench-'));

function launch(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { pipeStdout?: boolean } = {},
): Proc {
  const logFile = path.join(workDir, `${name}.log`);
  const log = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, args, {
    cwd: REPO,
    env,
    stdio: ['ignore', options.pipeStdout ? 'pipe' : log, log],
    detached: true,
  });
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.pid === undefined) throw new Error(`${name} did not start`);
  const proc = { name, child, pid: child.pid, exited, logFile };
  procs.push(proc);
  return proc;
}

async function stopAll(): Promise<void> {
  for (const proc of procs.slice().reverse()) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) continue;
    proc.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      try {
        process.kill(-proc.pid, 'SIGKILL');
      } catch {}
    }, 15_000);
    await proc.exited;
    clearTimeout(timer);
    // Whatever it left in its process group (mcp-proxy's stdio child).
    try {
      process.kill(-proc.pid, 'SIGKILL');
    } catch {}
  }
}

async function until<T>(what: string, ms: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not ready in ${ms} ms${last ? `: ${(last as Error).message}` : ''}`);
}

function ensureMcpProxy(): void {
  if (fs.existsSync(MCP_PROXY_BIN)) return;
  process.stderr.write(`installing mcp-proxy@${MCP_PROXY_VERSION} into ${CACHE}\n`);
  fs.mkdirSync(CACHE, { recursive: true });
  execFileSync(
    'npm',
    [
      'install',
      '--no-save',
      '--no-audit',
      '--no-fund',
      '--prefix',
      CACHE,
      `mcp-proxy@${MCP_PROXY_VERSION}`,
    ],
    { stdio: 'inherit' },
  );
}

// ---------------------------------------------------------------------------------------------
// /proc accounting

/** utime + stime of one process (all its threads), in clock ticks. */
function cpuTicks(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** Busy ticks of the whole machine (all cores), from /proc/stat. */
function machineBusyTicks(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return user! + nice! + system! + irq! + softirq! + steal!;
}

const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

// ---------------------------------------------------------------------------------------------
// Targets

interface Target {
  /** gateway-stdio, mcp-proxy, gateway-http, direct-http; with --base, gateway-stdio-base and gateway-http-base. */
  key: string;
  label: string;
  /** The process whose CPU is "the proxy's": the gateway or mcp-proxy; none for direct. */
  proxyPid: number | undefined;
  /** The upstream server's process. */
  upstreamPid: () => number | undefined;
  endpoint: (client: number) => Endpoint;
}

interface LegResult {
  target: Target['key'];
  concurrency: number;
  round: number;
  calls: number;
  errors: number;
  firstError?: string;
  seconds: number;
  latencies: Float64Array;
  proxyCpuMs: number;
  upstreamCpuMs: number;
  generatorCpuMs: number;
  /** CPU used by everything else on the machine during the leg, in cores. */
  otherCores: number;
  loadavg: string;
  /** When the measured part ran, in µs of the monotonic clock (what V8 CPU profiles use). */
  window: [number, number];
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

async function connectAll(target: Target, n: number): Promise<BenchClient[]> {
  const clients: BenchClient[] = [];
  // A few at a time: 64 simultaneous handshakes are not what is being measured.
  for (let i = 0; i < n; i += 8) {
    const batch = Array.from({ length: Math.min(8, n - i) }, (_, j) =>
      connectClient(CLIENT, target.endpoint(i + j), `${target.key}-${i + j}`),
    );
    clients.push(...(await Promise.all(batch)));
  }
  return clients;
}

async function drive(
  clients: BenchClient[],
  ms: number,
): Promise<{ latencies: number[]; errors: number; firstError?: string; seconds: number }> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + ms;
  await Promise.all(
    clients.map(async (client) => {
      while (performance.now() < deadline) {
        const t = performance.now();
        try {
          await client.call();
          latencies.push(performance.now() - t);
        } catch (error) {
          errors += 1;
          firstError ??= (error as Error).message;
          if (errors > 1000) throw new Error(`too many errors: ${firstError}`);
        }
      }
    }),
  );
  return {
    latencies,
    errors,
    ...(firstError !== undefined && { firstError }),
    seconds: (performance.now() - started) / 1000,
  };
}

async function leg(target: Target, concurrency: number, round: number): Promise<LegResult> {
  const clients = await connectAll(target, concurrency);
  // A few calls first, so every connection is open and every client past its first call.
  await drive(clients, 200);
  const upstreamPid = target.upstreamPid();
  const ours = () => [process.pid, ...procs.flatMap((p) => [p.pid, ...descendants(p.pid)])];
  const ourPids = ours();
  const before = {
    proxy: target.proxyPid ? cpuTicks(target.proxyPid) : 0,
    upstream: upstreamPid ? cpuTicks(upstreamPid) : 0,
    generator: process.cpuUsage(),
    machine: machineBusyTicks(),
    ours: ourPids.reduce((sum, pid) => sum + cpuTicks(pid), 0),
  };
  const from = monotonicUs();
  const run = await drive(clients, DURATION_MS);
  const to = monotonicUs();
  const after = {
    proxy: target.proxyPid ? cpuTicks(target.proxyPid) : 0,
    upstream: upstreamPid ? cpuTicks(upstreamPid) : 0,
    generator: process.cpuUsage(before.generator),
    machine: machineBusyTicks(),
    ours: ourPids.reduce((sum, pid) => sum + cpuTicks(pid), 0),
  };
  const load = loadavg();
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  const tickMs = 1000 / CLK_TCK;
  const other = after.machine - before.machine - (after.ours - before.ours);
  return {
    target: target.key,
    concurrency,
    round,
    calls: run.latencies.length,
    errors: run.errors,
    ...(run.firstError !== undefined && { firstError: run.firstError }),
    seconds: run.seconds,
    latencies: Float64Array.from(run.latencies),
    proxyCpuMs: (after.proxy - before.proxy) * tickMs,
    upstreamCpuMs: (after.upstream - before.upstream) * tickMs,
    generatorCpuMs: (after.generator.user + after.generator.system) / 1000,
    otherCores: Math.max(0, (other * tickMs) / 1000 / run.seconds),
    loadavg: load,
    window: [from, to],
  };
}

// ---------------------------------------------------------------------------------------------
// Setup

async function startHttpUpstream(): Promise<{ proc: Proc; url: URL }> {
  const proc = launch(
    'echo-http',
    ['--import', TSX_LOADER, ECHO_HTTP],
    { PATH: process.env.PATH },
    {
      pipeStdout: true,
    },
  );
  const url = await new Promise<URL>((resolve, reject) => {
    let out = '';
    proc.child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk;
      const match = /listening (\S+)/.exec(out);
      if (match) resolve(new URL(match[1]!));
    });
    proc.child.once('exit', (code) => reject(new Error(`echo-http exited ${code}`)));
  });
  proc.child.stdout?.resume();
  return { proc, url };
}

function writeIntegrations(httpUrl: URL): { dirs: string; policy: string } {
  const root = path.join(workDir, 'integrations');
  const manifest = (name: string, server: Record<string, unknown>) => {
    fs.mkdirSync(path.join(root, name), { recursive: true });
    fs.writeFileSync(
      path.join(root, name, 'switchboard.yaml'),
      stringify({
        apiVersion: 'switchboard/v1',
        name,
        version: '1.0.0',
        description: `Bench echo server (${server.transport})`,
        server,
      }),
    );
  };
  const [command, ...args] = STDIO_COMMAND;
  manifest('benchstdio', { transport: 'stdio', command, args });
  manifest('benchhttp', { transport: 'http', url: httpUrl.toString() });
  const policy = path.join(workDir, 'policy.yaml');
  fs.writeFileSync(
    policy,
    stringify({
      apiVersion: 'switchboard/policy/v1',
      integrations: {
        benchstdio: { enabled: true },
        benchhttp: { enabled: true, allowUrls: [httpUrl.origin] },
      },
      tokens: { defaultTtl: '2h', maxTtl: '2h' },
    }),
  );
  return { dirs: root, policy };
}

async function startGateway(
  integrations: { dirs: string; policy: string },
  name = 'gateway',
  repo = REPO,
) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const profileDir = path.join(workDir, `profiles-${name}`);
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(port),
    HOST: '127.0.0.1',
    SWITCHBOARD_DATA_DIR: path.join(workDir, `data-${name}`),
    SWITCHBOARD_MASTER_KEY: '5a'.repeat(32),
    SWITCHBOARD_ADMIN_KEY: ADMIN_KEY,
    INTEGRATION_DIRS: integrations.dirs,
    SWITCHBOARD_POLICY: integrations.policy,
    ...(opts['database-url'] && { DATABASE_URL: opts['database-url'] }),
  };
  // The database is created (initdb, migrations) by a process of its own first, so none of
  // that is in the gateway's CPU profile.
  const cli = path.join(repo, 'gateway/bin/switchboard.js');
  execFileSync(process.execPath, [cli, 'migrate'], { cwd: repo, env, stdio: 'ignore' });
  const proc = launch(
    name,
    [
      ...(opts.profile && name === 'gateway' ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
      cli,
      'start',
    ],
    env,
  );
  const admin = (route: string, init: RequestInit = {}) =>
    fetch(`${url}/api/v1${route}`, {
      ...init,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    });
  await until('the gateway', 60_000, async () => {
    if (proc.child.exitCode !== null) {
      throw new Error(`gateway exited: ${fs.readFileSync(proc.logFile, 'utf8').slice(-2000)}`);
    }
    const res = await fetch(`${url}/readyz`);
    return res.ok ? true : undefined;
  });
  await until('the integrations', 60_000, async () => {
    const body = (await (await admin('/integrations')).json()) as {
      integrations: Array<{ name: string; state: string }>;
    };
    const states = body.integrations.map((i) => i.state);
    return states.length === 2 && states.every((s) => s === 'ready') ? true : undefined;
  });
  return { proc, url, admin, profileDir };
}

async function grantTokens(
  admin: (route: string, init?: RequestInit) => Promise<Response>,
  n: number,
): Promise<Array<Record<string, { url: string; token: string }>>> {
  const grants = [];
  for (let i = 0; i < n; i++) {
    const res = await admin('/tasks', {
      method: 'POST',
      body: JSON.stringify({ external: true, scope: ['benchstdio:*', 'benchhttp:*'] }),
    });
    if (res.status !== 201) throw new Error(`grant: HTTP ${res.status} ${await res.text()}`);
    const body = (await res.json()) as {
      integrations: Array<{ name: string; url: string; token: string }>;
    };
    grants.push(Object.fromEntries(body.integrations.map((g) => [g.name, g])));
  }
  return grants;
}

async function startMcpProxy(): Promise<{ proc: Proc; url: URL }> {
  const port = await freePort();
  const proc = launch(
    'mcp-proxy',
    [
      ...(opts.profile
        ? ['--cpu-prof', `--cpu-prof-dir=${path.join(workDir, 'profiles-mcp-proxy')}`]
        : []),
      MCP_PROXY_BIN,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--server',
      'stream',
      ...(opts['proxy-arg'] ?? []),
      '--',
      ...STDIO_COMMAND,
    ],
    { PATH: process.env.PATH, HOME: process.env.HOME },
  );
  const url = new URL(`http://127.0.0.1:${port}/mcp`);
  await until('mcp-proxy', 60_000, async () => {
    if (proc.child.exitCode !== null) {
      throw new Error(`mcp-proxy exited: ${fs.readFileSync(proc.logFile, 'utf8').slice(-2000)}`);
    }
    const client = await connectClient('raw', { url, tool: 'echo' }, 'probe');
    await client.call();
    await client.close();
    return true;
  });
  return { proc, url };
}

function stdioChildOf(pid: number): number | undefined {
  for (const child of descendants(pid)) {
    try {
      if (fs.readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('echo-stdio.ts')) return child;
    } catch {}
  }
  return undefined;
}

/** One real v2 SDK client per target: tools/list shows `echo`, and a call echoes. */
async function sanityCheck(target: Target): Promise<void> {
  const endpoint = target.endpoint(0);
  const client = new Client({ name: 'bench-sanity', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(endpoint.url, {
      ...(endpoint.token && {
        requestInit: { headers: { authorization: `Bearer ${endpoint.token}` } },
      }),
    }),
  );
  try {
    const tools = (await client.listTools()).tools.map((t) => t.name);
    if (!tools.includes(endpoint.tool)) throw new Error(`${target.key}: tools are ${tools}`);
    const result = await client.callTool({ name: endpoint.tool, arguments: { message: 'hi' } });
    const text = (result.content as Array<{ text?: string }>)[0]?.text;
    if (text !== 'hi') throw new Error(`${target.key}: echo answered ${JSON.stringify(result)}`);
  } finally {
    await client.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const quantile = (sorted: Float64Array, q: number) =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

interface Summary {
  callsPerSecond: number;
  roundRange: [number, number];
  p50: number;
  p99: number;
  proxyUsPerCall: number;
  upstreamUsPerCall: number;
  generatorUsPerCall: number;
  otherCores: number;
  errors: number;
}

function summarize(legs: LegResult[]): Summary {
  const calls = legs.reduce((s, l) => s + l.calls, 0);
  const seconds = legs.reduce((s, l) => s + l.seconds, 0);
  const all = new Float64Array(calls);
  let at = 0;
  for (const l of legs) {
    all.set(l.latencies, at);
    at += l.latencies.length;
  }
  all.sort();
  const perRound = legs.map((l) => l.calls / l.seconds);
  const perCall = (ms: number) => (ms * 1000) / calls;
  return {
    callsPerSecond: calls / seconds,
    roundRange: [Math.min(...perRound), Math.max(...perRound)],
    p50: quantile(all, 0.5),
    p99: quantile(all, 0.99),
    proxyUsPerCall: perCall(legs.reduce((s, l) => s + l.proxyCpuMs, 0)),
    upstreamUsPerCall: perCall(legs.reduce((s, l) => s + l.upstreamCpuMs, 0)),
    generatorUsPerCall: perCall(legs.reduce((s, l) => s + l.generatorCpuMs, 0)),
    otherCores: legs.reduce((s, l) => s + l.otherCores * l.seconds, 0) / seconds,
    errors: legs.reduce((s, l) => s + l.errors, 0),
  };
}

const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toString() : '–');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '–');
const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '–');

function report(results: LegResult[], targets: Target[]): string {
  const lines: string[] = [];
  const get = (key: string, c: number) =>
    summarize(results.filter((r) => r.target === key && r.concurrency === c));
  const has = (key: string) => targets.some((t) => t.key === key);
  lines.push(
    '| target | C | calls/s (rounds min–max) | p50 ms | p99 ms | proxy CPU µs/call | upstream CPU µs/call | generator CPU µs/call | other load (cores) | errors |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const c of LEVELS) {
    for (const t of targets) {
      const s = get(t.key, c);
      lines.push(
        `| ${t.label} | ${c} | ${f0(s.callsPerSecond)} (${f0(s.roundRange[0])}–${f0(s.roundRange[1])}) | ${ms(s.p50)} | ${ms(s.p99)} | ${t.proxyPid ? f0(s.proxyUsPerCall) : '–'} | ${f0(s.upstreamUsPerCall)} | ${f0(s.generatorUsPerCall)} | ${f2(s.otherCores)} | ${s.errors} |`,
      );
    }
  }
  if (has('gateway-stdio') && has('mcp-proxy')) {
    lines.push(
      '',
      '(a) gateway → stdio vs mcp-proxy → the same stdio command (ratio = gateway / mcp-proxy)',
      '',
      '| C | calls/s ratio | CPU/call ratio | p50 ratio | p99 ratio | target |',
      '|---|---|---|---|---|---|',
    );
    for (const c of LEVELS) {
      const g = get('gateway-stdio', c);
      const p = get('mcp-proxy', c);
      const target = c === 16 ? '≥ 1.2× calls/s, ≤ 0.9× CPU' : '≥ 1.0× calls/s';
      lines.push(
        `| ${c} | ${f2(g.callsPerSecond / p.callsPerSecond)} | ${f2(g.proxyUsPerCall / p.proxyUsPerCall)} | ${f2(g.p50 / p.p50)} | ${f2(g.p99 / p.p99)} | ${target} |`,
      );
    }
  }
  if (has('gateway-http') && has('direct-http')) {
    lines.push(
      '',
      '(b) gateway → HTTP upstream vs the HTTP upstream called directly (ratio = via gateway / direct)',
      '',
      '| C | calls/s ratio | p50 added ms | p99 added ms | gateway CPU µs/call |',
      '|---|---|---|---|---|',
    );
    for (const c of LEVELS) {
      const g = get('gateway-http', c);
      const d = get('direct-http', c);
      lines.push(
        `| ${c} | ${f2(g.callsPerSecond / d.callsPerSecond)} | ${ms(g.p50 - d.p50)} | ${ms(g.p99 - d.p99)} | ${f0(g.proxyUsPerCall)} |`,
      );
    }
  }
  if (has('gateway-stdio-base') || has('gateway-http-base')) {
    lines.push(
      '',
      '(c) this checkout vs the --base checkout (ratio = this / base)',
      '',
      '| C | upstream | calls/s ratio | gateway CPU/call ratio | p50 ratio | p99 ratio |',
      '|---|---|---|---|---|---|',
    );
    for (const c of LEVELS) {
      for (const kind of ['stdio', 'http']) {
        if (!has(`gateway-${kind}-base`)) continue;
        const now = get(`gateway-${kind}`, c);
        const before = get(`gateway-${kind}-base`, c);
        lines.push(
          `| ${c} | ${kind} | ${f2(now.callsPerSecond / before.callsPerSecond)} | ${f2(now.proxyUsPerCall / before.proxyUsPerCall)} | ${f2(now.p50 / before.p50)} | ${f2(now.p99 / before.p99)} |`,
        );
      }
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main

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
  const httpUpstream = await startHttpUpstream();
  const integrations = writeIntegrations(httpUpstream.url);
  const gateway = await startGateway(integrations);
  const proxy = wantStdio ? await startMcpProxy() : undefined;
  const grants = await grantTokens(gateway.admin, MAX_CLIENTS);
  // --base DIR: a second gateway from another checkout (say, before a change), measured in the
  // same run and alternated with this one, so a change's effect is not lost in the noise.
  const base = opts.base
    ? await startGateway(integrations, 'gateway-base', path.resolve(opts.base))
    : undefined;
  const baseGrants = base ? await grantTokens(base.admin, MAX_CLIENTS) : [];
  const viaGateway = (
    key: string,
    label: string,
    gw: { proc: Proc },
    g: typeof grants,
    integration: 'benchstdio' | 'benchhttp',
  ): Target => ({
    key,
    label,
    proxyPid: gw.proc.pid,
    upstreamPid: () =>
      integration === 'benchstdio' ? stdioChildOf(gw.proc.pid) : httpUpstream.proc.pid,
    endpoint: (i) => ({
      url: new URL(g[i]![integration]!.url),
      token: g[i]![integration]!.token,
      tool: 'echo',
    }),
  });

  const groups: Target[][] = [];
  const targets: Target[] = [];
  if (wantStdio && proxy) {
    targets.push(
      {
        key: 'gateway-stdio',
        label: 'gateway → stdio',
        proxyPid: gateway.proc.pid,
        upstreamPid: () => stdioChildOf(gateway.proc.pid),
        endpoint: (i) => ({
          url: new URL(grants[i]!.benchstdio!.url),
          token: grants[i]!.benchstdio!.token,
          tool: 'echo',
        }),
      },
      {
        key: 'mcp-proxy',
        label: `mcp-proxy ${MCP_PROXY_VERSION} → stdio`,
        proxyPid: proxy.proc.pid,
        upstreamPid: () => stdioChildOf(proxy.proc.pid),
        endpoint: () => ({ url: proxy.url, tool: 'echo' }),
      },
    );
    if (base) {
      targets.push(
        viaGateway('gateway-stdio-base', 'base gateway → stdio', base, baseGrants, 'benchstdio'),
      );
    }
    groups.push(targets.slice());
  }
  if (wantHttp) {
    targets.push(
      {
        key: 'gateway-http',
        label: 'gateway → HTTP',
        proxyPid: gateway.proc.pid,
        upstreamPid: () => httpUpstream.proc.pid,
        endpoint: (i) => ({
          url: new URL(grants[i]!.benchhttp!.url),
          token: grants[i]!.benchhttp!.token,
          tool: 'echo',
        }),
      },
      {
        key: 'direct-http',
        label: 'HTTP upstream direct',
        proxyPid: undefined,
        upstreamPid: () => httpUpstream.proc.pid,
        endpoint: () => ({ url: httpUpstream.url, tool: 'echo' }),
      },
    );
    if (base) {
      targets.push(
        viaGateway('gateway-http-base', 'base gateway → HTTP', base, baseGrants, 'benchhttp'),
      );
    }
    groups.push(targets.slice(groups.flat().length));
  }
  for (const t of targets) await sanityCheck(t);

  let tokenResult: Record<string, unknown> | undefined;
  if (opts.tokens && !opts['no-tokens']) {
    process.stderr.write('token verification (token-bench.ts)…\n');
    const out = execFileSync(
      process.execPath,
      ['--import', TSX_LOADER, path.join(REPO, 'test/bench/token-bench.ts'), '2000'],
      {
        cwd: REPO,
        env: { ...process.env, DATABASE_URL: opts['database-url'] ?? '' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    tokenResult = JSON.parse(out.toString().trim().split('\n').pop()!) as Record<string, unknown>;
  }

  // Warm-up: every target in turn, twice, at 16 clients; not measured.
  process.stderr.write(`warm-up (${WARMUP_MS} ms per target, twice)…\n`);
  for (let pass = 0; pass < 2; pass++) {
    for (const t of pass === 0 ? targets : targets.slice().reverse()) {
      const clients = await connectAll(t, Math.min(16, MAX_CLIENTS));
      await drive(clients, WARMUP_MS / 2);
      await Promise.all(clients.map((c) => c.close()));
    }
  }

  // Targets compared with each other run back to back, in an order that changes every round and
  // every level (rotated, and reversed every other time); so does which group goes first.
  const results: LegResult[] = [];
  let flip = 0;
  for (const c of LEVELS) {
    for (let round = 1; round <= ROUNDS; round++) {
      flip += 1;
      const orderedGroups = flip % 2 === 0 ? groups.slice().reverse() : groups;
      for (const group of orderedGroups) {
        const rotated = [
          ...group.slice(flip % group.length),
          ...group.slice(0, flip % group.length),
        ];
        for (const t of flip % 2 === 0 ? rotated : rotated.reverse()) {
          const r = await leg(t, c, round);
          results.push(r);
          process.stderr.write(
            `C=${String(c).padStart(2)} round ${round} ${t.key.padEnd(13)} ${f0(r.calls / r.seconds).padStart(5)} calls/s  proxy ${t.proxyPid ? f0((r.proxyCpuMs * 1000) / r.calls) : '–'} µs/call  other ${f2(r.otherCores)} cores  load ${r.loadavg}${r.errors ? `  ERRORS ${r.errors}: ${r.firstError}` : ''}\n`,
          );
        }
      }
    }
  }
  const loadAfter = loadavg();
  const finishedAt = new Date();
  // What the gateway wrote besides its request lines: warnings (e.g. Node's
  // MaxListenersExceededWarning on stderr) cost CPU too, and say something is off.
  const logStats = (proc: Proc) => {
    const lines = fs.readFileSync(proc.logFile, 'utf8').split('\n');
    const warnings = lines.filter((l) => /Warning:|"level":"(warn|error|fatal)"/.test(l));
    const kinds = new Map<string, number>();
    for (const w of warnings) {
      const kind = /(\w+Warning)|"msg":"([^"]+)"/.exec(w);
      const key = kind?.[1] ?? kind?.[2] ?? w.slice(0, 60);
      kinds.set(key, (kinds.get(key) ?? 0) + 1);
    }
    return `${proc.name} log: ${lines.length} lines, ${warnings.length} warnings/errors${[...kinds].map(([k, n]) => `; ${k} ×${n}`).join('')}`;
  };

  const lines = [
    `# mcp-bench ${startedAt.toISOString()} → ${finishedAt.toISOString()}`,
    '',
    `command: npx tsx test/bench/mcp-bench.ts ${process.argv.slice(2).join(' ')}`.trim(),
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.type()} ${os.release()}`,
    `load average: before ${loadBefore}, after ${loadAfter}`,
    `client: ${CLIENT === 'raw' ? 'raw JSON-RPC over node:http, 2025-era handshake (2025-11-25), one keep-alive connection per client' : 'v2 SDK Client, StreamableHTTPClientTransport, 2025 handshake'}; ${DURATION_MS / 1000} s per leg, ${ROUNDS} rounds per level, targets alternated`,
    `gateway: switchboard start, LOG_LEVEL=info, ${opts['database-url'] ? 'PostgreSQL' : 'embedded PGlite'}${opts.profile ? ', --cpu-prof (slower!)' : ''}; one token per client (${MAX_CLIENTS} tasks)`,
    `mcp-proxy ${MCP_PROXY_VERSION}: --server stream ${(opts['proxy-arg'] ?? []).join(' ')}`.trim(),
    logStats(gateway.proc),
    '',
    report(results, targets),
  ];
  if (tokenResult) {
    lines.push(
      '',
      `Token verification (TokenService.verify, ${tokenResult.database}, ${tokenResult.tokens} tokens):`,
      '',
      '| | per second | µs each |',
      '|---|---|---|',
      `| cold (cache miss: EdDSA signature + claims + DB check), one at a time | ${tokenResult.coldPerSecond} | ${tokenResult.coldUs} |`,
      `| cold, 16 in flight | ${tokenResult.coldConcurrent16PerSecond} | |`,
      `| cached (SHA-256 + map lookup) | ${tokenResult.cachedPerSecond} | ${tokenResult.cachedUs} |`,
      `| of a cold one: jose jwtVerify alone (signature, header, claims) | | ${tokenResult.signatureOnlyUs} |`,
      `| for comparison: jose jwtVerify with a CryptoKey imported once | | ${tokenResult.joseCryptoKeyUs} |`,
      `| for comparison: the bare Ed25519 check (node:crypto verify) | | ${tokenResult.bareEd25519Us} |`,
      `| of a cold one: the DB check alone | | ${tokenResult.dbCheckOnlyUs} |`,
    );
  }
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
          legs: results.map(({ latencies, ...rest }) => ({
            ...rest,
            p50: quantile(latencies.slice().sort(), 0.5),
            p99: quantile(latencies.slice().sort(), 0.99),
          })),
        },
        null,
        2,
      ),
    );
  }
  if (opts.profile) {
    await stopAll();
    const kept = path.join(CACHE, 'profiles');
    fs.mkdirSync(kept, { recursive: true });
    const files: string[] = [];
    for (const [who, dir] of [
      ['gateway', gateway.profileDir],
      ['mcp-proxy', path.join(workDir, 'profiles-mcp-proxy')],
    ] as const) {
      if (!fs.existsSync(dir)) continue;
      for (const f of fs.readdirSync(dir)) {
        fs.copyFileSync(path.join(dir, f), path.join(kept, `${who}-${f}`));
        files.push(`${who}-${f}`);
      }
    }
    // The measured windows of each gateway target, so the summary can leave out start-up.
    const windows = path.join(kept, `windows-${gateway.proc.pid}.json`);
    const of = (key: string) => {
      const legs = results.filter((r) => r.target === key);
      return { windows: legs.map((l) => l.window), calls: legs.reduce((s, l) => s + l.calls, 0) };
    };
    fs.writeFileSync(
      windows,
      JSON.stringify({
        'gateway-stdio': of('gateway-stdio'),
        'gateway-http': of('gateway-http'),
        'mcp-proxy': of('mcp-proxy'),
      }),
    );
    process.stdout.write(
      `\nCPU profiles: ${files.map((f) => path.join(kept, f)).join(', ')}\n` +
        `summarise with: npx tsx test/bench/profile-summary.ts <main-thread file> --windows ${windows} --target gateway-stdio\n`,
    );
  }
}

try {
  await main();
} finally {
  await stopAll();
  fs.rmSync(workDir, { recursive: true, force: true });
}
