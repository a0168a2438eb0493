/**
 * What every benchmark measures a leg with: from /proc, one process's CPU, the whole machine's,
 * every PostgreSQL backend's and the load average (Linux only, as the benchmarks); and the
 * quantile of sorted latencies.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** Clock ticks per second of /proc's CPU times (100 on every Linux seen so far). */
export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
/** One clock tick in µs. */
export const TICK_US = 1_000_000 / CLK_TCK;

/** utime + stime of one process (all its threads), in clock ticks; 0 once it is gone. */
export function cpuTicks(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** Busy ticks of the whole machine (all cores), from /proc/stat. */
export function machineBusyTicks(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return user! + nice! + system! + irq! + softirq! + steal!;
}

/** CPU ticks of every process called `postgres` (the server's backends; shared machine). */
export function postgresTicks(): number {
  let sum = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.includes('(postgres)')) sum += cpuTicks(Number(entry));
    } catch {}
  }
  return sum;
}

/** The 1-, 5- and 15-minute load averages, as /proc/loadavg writes them ("0.52 0.61 0.70"). */
export const loadavg = (): string =>
  fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** Values sorted ascending: the one at fraction `q` (0.5 = p50, 0.99 = p99); NaN when empty. */
export const quantile = (sorted: ArrayLike<number>, q: number): number =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
