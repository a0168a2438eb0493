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
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { copyHostileFixture } from '../helpers/hostile-copy.ts';
import { descendants } from '../helpers/processes.ts';
import { type Kind, type Leg, report } from './flood-report.ts';
import {
  type BenchGateway,
  type Granted,
  grantExternalTask,
  startBenchGateway,
} from './gateway.ts';
import { CLK_TCK, cpuTicks, quantile } from './measure.ts';
import { Processes, REPO } from './processes.ts';

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

const KINDS: Kind[] = ['list_changed', 'progress', 'stderr'];

// ---------------------------------------------------------------------------------------------
// The gateway

/** Inside the repository, so the fixture's server finds tsx and the SDK (as test/helpers/hostile.ts). */
const root = fs.mkdtempSync(path.join(REPO, 'test/fixtures/.generated-flood-bench-'));
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-flood-bench-'));
const processes = new Processes(dataDir);

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

function startGateway(): Promise<BenchGateway> {
  return startBenchGateway(processes, {
    dataDir: path.join(dataDir, 'data'),
    integrations: writeIntegrations(),
    databaseUrl: opts['database-url'],
    env: { LOG_LEVEL: 'info' },
    ready: ['hostile', 'quiet'],
  });
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

/** The machine's 1-minute load average: on a shared machine, what the legs competed with. */
const loadAverage = () => Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const gateway = await startGateway();
  const pid = gateway.proc.pid;
  const logFile = gateway.proc.logFile;
  const grants = await Promise.all(
    Array.from({ length: VICTIMS + LISTENERS + 1 }, () =>
      grantExternalTask(gateway, ['hostile:*', 'quiet:*']),
    ),
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
      p50: quantile(sorted, 0.5),
      p95: quantile(sorted, 0.95),
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
  const states = (await (await gateway.admin('/integrations')).json()) as {
    integrations: Array<{ name: string; state: string }>;
  };

  process.stdout.write(
    `${report(rows, {
      header: `flood benchmark: ${VICTIMS} victim tasks calling quiet/echo in a closed loop, ${LISTENERS} other tasks holding change streams on /mcp, one task flooding through hostile; legs of ${LEG_MS / 1000} s, ${opts['database-url'] ? 'PostgreSQL' : 'embedded PGlite'}, ${os.cpus().length} cores`,
      integrations: states.integrations,
    })}\n`,
  );
  if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(rows, null, 2));
  await Promise.all([...listeners, flooder].map((c) => c.close().catch(() => {})));
}

async function cleanup(): Promise<void> {
  await processes.stopAll();
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(dataDir, { recursive: true, force: true });
}

try {
  await main();
} finally {
  await cleanup();
}
