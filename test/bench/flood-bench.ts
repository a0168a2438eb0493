/**
 * The flood benchmark of issue 13: while one integration floods, how slow do other tasks'
 * calls to a quiet integration get? One real `switchboard start` serves two copies of the
 * hostile fixture (test/fixtures/hostile): `hostile`, driven to flood by one task, and `quiet`,
 * whose `echo` other tasks call in a closed loop. For each flood kind (list_changed, progress,
 * stderr) a quiet leg and a flood leg run back to back in the same run, and the table gives
 * p50/p95 of the victims' calls in each and their ratio (target ≤ 2×, issue 13). Other tasks
 * also hold change streams open (2025 GET streams and 2026 listen streams on /mcp), the
 * streams issue 13 saw flooded; the notifications they heard are counted.
 *
 * A leg is shorter than the gateway's flood limit (10 s over in a row refuses the integration
 * as upstream_flooding) and legs are separated by quiet ones, so the benchmark measures the
 * containment below that limit. No assertions: it prints a table.
 *
 *   npx tsx test/bench/flood-bench.ts [--duration 6] [--victims 8] [--listeners 4]
 *       [--database-url postgres://…] [--json out.json]
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { copyHostileFixture } from '../helpers/hostile-copy.ts';
import { descendants, freePort } from '../helpers/processes.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const ADMIN_KEY = `bench-admin-key-${'0123456789abcdef'.repeat(3)}`;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '6' },
    victims: { type: 'string', default: '8' },
    listeners: { type: 'string', default: '4' },
    'database-url': { type: 'string' },
    json: { type: 'string' },
  },
});
// Under the gateway's 10 s flood limit, so the flood is measured, not refused.
const LEG_MS = Math.min(Number(opts.duration), 8) * 1000;
const VICTIMS = Number(opts.victims);
const LISTENERS = Number(opts.listeners);

type Kind = 'list_changed' | 'progress' | 'stderr';
const KINDS: Kind[] = ['list_changed', 'progress', 'stderr'];

// ---------------------------------------------------------------------------------------------
// The gateway

/** Inside the repository, so the fixture's server finds tsx and the SDK (as test/helpers/hostile.ts). */
const root = fs.mkdtempSync(path.join(REPO, 'test/fixtures/.generated-flood-bench-'));
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-flood-bench-'));
const logFile = path.join(dataDir, 'gateway.log');
let gateway: ChildProcess | undefined;

function writeIntegrations(): { dirs: string; policy: string } {
  const dirs = path.join(root, 'integrations');
  for (const name of ['hostile', 'quiet']) copyHostileFixture(dirs, name);
  const policy = path.join(root, 'policy.yaml');
  fs.writeFileSync(
    policy,
    `apiVersion: switchboard/policy/v1
integrations:
  hostile: { enabled: true }
  quiet: { enabled: true }
tokens: { defaultTtl: 2h, maxTtl: 2h }
`,
  );
  return { dirs, policy };
}

async function startGateway(): Promise<{ url: string; pid: number }> {
  const { dirs, policy } = writeIntegrations();
  const port = await freePort();
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    SWITCHBOARD_DATA_DIR: path.join(dataDir, 'data'),
    SWITCHBOARD_MASTER_KEY: '5a'.repeat(32),
    SWITCHBOARD_ADMIN_KEY: ADMIN_KEY,
    INTEGRATION_DIRS: dirs,
    SWITCHBOARD_POLICY: policy,
    ...(opts['database-url'] && { DATABASE_URL: opts['database-url'] }),
  };
  const cli = path.join(REPO, 'gateway/bin/switchboard.js');
  execFileSync(process.execPath, [cli, 'migrate'], { cwd: REPO, env, stdio: 'ignore' });
  const log = fs.openSync(logFile, 'a');
  gateway = spawn(process.execPath, [cli, 'start'], {
    cwd: REPO,
    env,
    stdio: ['ignore', log, log],
    detached: true,
  });
  fs.closeSync(log);
  const url = `http://127.0.0.1:${port}`;
  for (let tries = 0; ; tries++) {
    if (gateway.exitCode !== null) throw new Error(`gateway exited: ${tail()}`);
    try {
      const res = await admin(url, '/integrations');
      const body = (await res.json()) as { integrations: Array<{ state: string }> };
      if (body.integrations.length === 2 && body.integrations.every((i) => i.state === 'ready')) {
        return { url, pid: gateway.pid as number };
      }
    } catch {}
    if (tries > 600) throw new Error(`gateway not ready: ${tail()}`);
    await sleep(100);
  }
}

function tail(): string {
  return fs.readFileSync(logFile, 'utf8').slice(-2000);
}

function admin(url: string, route: string, body?: unknown): Promise<Response> {
  return fetch(`${url}/api/v1${route}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
}

interface Granted {
  mcp: { url: string; token: string };
  integrations: Array<{ name: string; url: string; token: string }>;
}

async function grant(url: string): Promise<Granted> {
  const res = await admin(url, '/tasks', { external: true, scope: ['hostile:*', 'quiet:*'] });
  if (res.status !== 201) throw new Error(`grant: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as Granted;
}

const endpointOf = (g: Granted, name: string) => {
  const found = g.integrations.find((i) => i.name === name);
  if (!found) throw new Error(`no token for ${name}`);
  return found;
};

async function connect(url: string, token: string, era: 'modern' | 'legacy'): Promise<Client> {
  const client = new Client(
    { name: `flood-bench-${era}`, version: '1.0.0' },
    era === 'modern' ? { versionNegotiation: { mode: 'auto' } } : {},
  );
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

// ---------------------------------------------------------------------------------------------
// Load

/** One victim's `echo` on /mcp/quiet: a raw 2025-era POST, as the MCP tests send it. */
async function echo(endpoint: { url: string; token: string }, n: number): Promise<void> {
  const text = `m${n}`;
  const res = await fetch(endpoint.url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${endpoint.token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-11-25',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: n,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text } },
    }),
  });
  const body = await res.text();
  if (res.status !== 200 || !body.includes(`"text":"${text}"`)) {
    throw new Error(`echo: HTTP ${res.status} ${body.slice(0, 300)}`);
  }
}

/** Latencies (ms) of every victim's calls in a closed loop until `stop`. */
async function victims(
  endpoints: Array<{ url: string; token: string }>,
  stop: () => boolean,
): Promise<{ latencies: number[]; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  let n = 0;
  await Promise.all(
    endpoints.map(async (endpoint) => {
      while (!stop()) {
        const started = performance.now();
        try {
          await echo(endpoint, ++n);
          latencies.push(performance.now() - started);
        } catch {
          errors += 1;
        }
      }
    }),
  );
  return { latencies, errors };
}

/**
 * Flood calls of `kind`, repeated until `stop`: 1,000 notifications a call (the gateway reads
 * ~1,000 a second from a flooding server, so one call lasts about a second and the leg ends on
 * time) or 2 MB of stderr. Returns the progress notifications heard and the calls made.
 */
async function flood(
  flooder: Client,
  kind: Kind,
  stop: () => boolean,
): Promise<{ progress: number; calls: number; failed: number }> {
  let progress = 0;
  let calls = 0;
  let failed = 0;
  while (!stop()) {
    calls += 1;
    try {
      if (kind === 'list_changed') {
        await flooder.callTool({ name: 'flood_list_changed', arguments: { count: 1000 } });
      } else if (kind === 'progress') {
        await flooder.callTool(
          { name: 'flood_progress', arguments: { count: 1000 } },
          {
            onprogress: () => {
              progress += 1;
            },
          },
        );
      } else {
        await flooder.callTool({ name: 'flood_stderr', arguments: { bytes: 2_000_000 } });
      }
    } catch {
      failed += 1;
      await sleep(100);
    }
  }
  return { progress, calls, failed };
}

function cpuTicks(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0; // exited meanwhile
  }
}

/** The machine's 1-minute load average: on a shared machine, what the legs competed with. */
const loadAverage = () => Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

interface Leg {
  calls: number;
  errors: number;
  p50: number;
  p95: number;
  cpuPct: number;
  /** The integrations' servers (hostile and quiet), together. */
  serversCpuPct: number;
  /** This process: the victims' and listeners' clients and the flooder's. */
  benchCpuPct: number;
  load: number;
  logBytes: number;
  heard: number;
  progress: number;
  floodCalls: number;
  floodFailed: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const { url, pid } = await startGateway();
  const grants = await Promise.all(
    Array.from({ length: VICTIMS + LISTENERS + 1 }, () => grant(url)),
  );
  const flooderGrant = grants[0] as Granted;
  const victimEndpoints = grants.slice(1, 1 + VICTIMS).map((g) => endpointOf(g, 'quiet'));
  let heard = 0;
  const listeners: Client[] = [];
  for (const [index, g] of grants.slice(1 + VICTIMS).entries()) {
    // Half hold a 2025 GET stream (opened by the SDK after initialize), half a 2026 listen.
    const era = index % 2 === 0 ? 'legacy' : 'modern';
    const client = await connect(g.mcp.url, g.mcp.token, era);
    client.setNotificationHandler('notifications/tools/list_changed', () => {
      heard += 1;
    });
    if (era === 'modern') await client.listen({ toolsListChanged: true });
    listeners.push(client);
  }
  const hostile = endpointOf(flooderGrant, 'hostile');
  const flooder = await connect(hostile.url, hostile.token, 'legacy');
  // Warm-up: every victim's token verified and the quiet server's tools cached.
  await victims(
    victimEndpoints,
    (() => {
      const end = Date.now() + 1_000;
      return () => Date.now() > end;
    })(),
  );

  const leg = async (kind: Kind | undefined): Promise<Leg> => {
    const end = Date.now() + LEG_MS;
    const stop = () => Date.now() > end;
    const cpu0 = cpuTicks(pid);
    const servers = descendants(pid);
    const servers0 = servers.reduce((sum, p) => sum + cpuTicks(p), 0);
    const bench0 = process.cpuUsage();
    const log0 = fs.statSync(logFile).size;
    const heard0 = heard;
    const started = performance.now();
    const [load, flooded] = await Promise.all([
      victims(victimEndpoints, stop),
      kind ? flood(flooder, kind, stop) : Promise.resolve({ progress: 0, calls: 0, failed: 0 }),
    ]);
    const seconds = (performance.now() - started) / 1000;
    const sorted = load.latencies.sort((a, b) => a - b);
    return {
      calls: sorted.length,
      errors: load.errors,
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      cpuPct: ((cpuTicks(pid) - cpu0) / CLK_TCK / seconds) * 100,
      serversCpuPct:
        ((servers.reduce((sum, p) => sum + cpuTicks(p), 0) - servers0) / CLK_TCK / seconds) * 100,
      benchCpuPct: (() => {
        const used = process.cpuUsage(bench0);
        return ((used.user + used.system) / 1e6 / seconds) * 100;
      })(),
      load: loadAverage(),
      logBytes: fs.statSync(logFile).size - log0,
      heard: heard - heard0,
      progress: flooded.progress,
      floodCalls: flooded.calls,
      floodFailed: flooded.failed,
    };
  };

  const rows: Array<{ kind: Kind; quiet: Leg; flood: Leg }> = [];
  for (const kind of KINDS) {
    const quiet = await leg(undefined);
    const flooded = await leg(kind);
    rows.push({ kind, quiet, flood: flooded });
    // Quiet between flood legs: the flood meter's run of over-limit seconds starts again.
    await sleep(3_000);
  }
  const states = (await (await admin(url, '/integrations')).json()) as {
    integrations: Array<{ name: string; state: string }>;
  };

  const f = (n: number) => (Number.isNaN(n) ? '-' : n.toFixed(1));
  const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
  const lines = [
    `flood benchmark: ${VICTIMS} victim tasks calling quiet/echo in a closed loop, ${LISTENERS} other tasks holding change streams on /mcp, one task flooding through hostile; legs of ${LEG_MS / 1000} s, ${opts['database-url'] ? 'PostgreSQL' : 'embedded PGlite'}, ${os.cpus().length} cores`,
    '',
    '| flood | leg | calls | errors | p50 ms | p95 ms | p50 ratio | p95 ratio | gateway CPU | servers CPU | bench CPU | load avg | log written | flood calls (failed) | list_changed heard by streams | progress to the flooder |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const { kind, quiet, flood: flooded } of rows) {
    for (const [name, l] of [
      ['quiet', quiet],
      ['flood', flooded],
    ] as const) {
      const ratio = (a: number, b: number) => (name === 'flood' ? `${(a / b).toFixed(2)}×` : '');
      lines.push(
        `| ${kind} | ${name} | ${l.calls} | ${l.errors} | ${f(l.p50)} | ${f(l.p95)} | ${ratio(l.p50, quiet.p50)} | ${ratio(l.p95, quiet.p95)} | ${l.cpuPct.toFixed(0)} % | ${l.serversCpuPct.toFixed(0)} % | ${l.benchCpuPct.toFixed(0)} % | ${l.load.toFixed(1)} | ${mb(l.logBytes)} | ${name === 'flood' ? `${l.floodCalls} (${l.floodFailed})` : ''} | ${l.heard} | ${name === 'flood' && kind === 'progress' ? l.progress : ''} |`,
      );
    }
  }
  lines.push(
    '',
    `integrations afterwards: ${states.integrations.map((i) => `${i.name} ${i.state}`).join(', ')}`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
  if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(rows, null, 2));
  await Promise.all([...listeners, flooder].map((c) => c.close().catch(() => {})));
}

async function cleanup(): Promise<void> {
  if (gateway && gateway.exitCode === null) {
    const exited = new Promise((resolve) => gateway?.once('exit', resolve));
    gateway.kill('SIGTERM');
    const timer = setTimeout(() => {
      try {
        process.kill(-(gateway?.pid as number), 'SIGKILL');
      } catch {}
    }, 15_000);
    await exited;
    clearTimeout(timer);
  }
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(dataDir, { recursive: true, force: true });
}

try {
  await main();
} finally {
  await cleanup();
}
