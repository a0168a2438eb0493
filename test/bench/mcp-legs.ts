/**
 * mcp-bench.ts's measurement: a leg is `concurrency` clients calling one target in a closed loop
 * for a fixed time, with the CPU of the proxy, the upstream, this generator and everything else
 * on the machine read from /proc before and after. Warm-up, then every level and round with the
 * targets compared with each other run back to back in an order that changes every time.
 */
import { descendants } from '../helpers/processes.ts';
import { type BenchClient, type ClientKind, connectClient } from './load.ts';
import type { Target } from './mcp-targets.ts';
import { CLK_TCK, cpuTicks, loadavg, machineBusyTicks } from './measure.ts';
import type { Processes } from './processes.ts';

export interface LegResult {
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

/** How legs run: the same for every target. */
export interface LegSettings {
  client: ClientKind;
  durationMs: number;
  /** Everything this run started: their CPU is not "other load". */
  processes: Processes;
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

async function connectAll(target: Target, n: number, kind: ClientKind): Promise<BenchClient[]> {
  const clients: BenchClient[] = [];
  // A few at a time: 64 simultaneous handshakes are not what is being measured.
  for (let i = 0; i < n; i += 8) {
    const batch = Array.from({ length: Math.min(8, n - i) }, (_, j) =>
      connectClient(kind, target.endpoint(i + j), `${target.key}-${i + j}`),
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

async function leg(
  target: Target,
  concurrency: number,
  round: number,
  settings: LegSettings,
): Promise<LegResult> {
  const clients = await connectAll(target, concurrency, settings.client);
  // A few calls first, so every connection is open and every client past its first call.
  await drive(clients, 200);
  const upstreamPid = target.upstreamPid();
  const procs = settings.processes.started;
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
  const run = await drive(clients, settings.durationMs);
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

/** Every target in turn, twice (the second time in reverse), at up to 16 clients; not measured. */
export async function warmUp(
  targets: Target[],
  o: { ms: number; maxClients: number; client: ClientKind },
): Promise<void> {
  for (let pass = 0; pass < 2; pass++) {
    for (const t of pass === 0 ? targets : targets.slice().reverse()) {
      const clients = await connectAll(t, Math.min(16, o.maxClients), o.client);
      await drive(clients, o.ms / 2);
      await Promise.all(clients.map((c) => c.close()));
    }
  }
}

/**
 * Every level, `rounds` rounds of every group. Targets compared with each other run back to
 * back, in an order that changes every round and every level (rotated, and reversed every other
 * time); so does which group goes first. `onLeg` hears each leg as it ends.
 */
export async function runLegs(
  groups: Target[][],
  o: { levels: number[]; rounds: number; onLeg: (t: Target, r: LegResult) => void },
  settings: LegSettings,
): Promise<LegResult[]> {
  const results: LegResult[] = [];
  let flip = 0;
  for (const c of o.levels) {
    for (let round = 1; round <= o.rounds; round++) {
      flip += 1;
      const orderedGroups = flip % 2 === 0 ? groups.slice().reverse() : groups;
      for (const group of orderedGroups) {
        const rotated = [
          ...group.slice(flip % group.length),
          ...group.slice(0, flip % group.length),
        ];
        for (const t of flip % 2 === 0 ? rotated : rotated.reverse()) {
          const r = await leg(t, c, round, settings);
          results.push(r);
          o.onLeg(t, r);
        }
      }
    }
  }
  return results;
}
