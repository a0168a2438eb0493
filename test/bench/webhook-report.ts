/**
 * webhook-bench.ts's result types and its Markdown report: per target and concurrency the
 * acknowledged deliveries/s, 202 latency, CPU per acknowledgement by process, the
 * gateway/direct ratios, delivery → task latency, the worker's drain rate and the issue-6
 * targets.
 */
import os from 'node:os';
import { tableHead, tableRow } from './markdown.ts';
import { quantile, TICK_US } from './measure.ts';
import type { LegResult } from './webhook-load.ts';

export interface Target {
  /** duplicate: the gateway sent deliveries it has stored (200, nothing for the worker). */
  key: 'gateway' | 'direct' | 'duplicate';
  url: URL;
  pid: number;
}
/** The worker emptying the backlog between rounds; CPU in µs per processed delivery. */
export interface Drain {
  rows: number;
  seconds: number;
  left: number;
  gateway: number;
  handler: number;
  postgres: number;
}
export interface Leg extends LegResult {
  target: Target['key'];
  concurrency: number;
  round: number;
  cpu: { target: number; handler: number; postgres: number; generator: number; other: number };
  window: [number, number];
  backlog: number;
}

export function report(r: {
  legs: Leg[];
  e2e: Float64Array;
  e2eAck: LegResult;
  e2eRate: number;
  e2eCount: number;
  drains: Drain[];
  loadBefore: string;
  loadAfter: string;
  levels: number[];
  rounds: number;
  seconds: number;
}) {
  const { levels, rounds, seconds } = r;
  const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '–');
  const stats = (target: Leg['target'], c: number) => {
    const legs = r.legs.filter((l) => l.target === target && l.concurrency === c);
    const rates = legs.map((l) => l.acked / l.seconds);
    const acked = legs.reduce((s, l) => s + l.acked, 0);
    const secs = legs.reduce((s, l) => s + l.seconds, 0);
    const lat = Float64Array.from(legs.flatMap((l) => [...l.latencies])).sort();
    const perAck = (k: keyof Leg['cpu']) =>
      (legs.reduce((s, l) => s + l.cpu[k], 0) * TICK_US) / Math.max(1, acked);
    return {
      rate: acked / secs,
      min: Math.min(...rates),
      max: Math.max(...rates),
      p50: quantile(lat, 0.5),
      p99: quantile(lat, 0.99),
      top: lat[lat.length - 1] ?? Number.NaN,
      cpu: perAck('target'),
      handler: perAck('handler'),
      postgres: perAck('postgres'),
      generator: perAck('generator'),
      other: legs.reduce((s, l) => s + l.cpu.other, 0) / 100 / secs,
      errors: legs.reduce((s, l) => s + l.errors, 0),
      exhausted: legs.some((l) => l.exhausted),
      backlog: Math.max(...legs.map((l) => l.backlog)),
    };
  };
  const out: string[] = [];
  out.push(`## Webhook ingest, ${new Date().toISOString()}`, '');
  out.push(
    `- Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}; load ${r.loadBefore} before, ${r.loadAfter} after`,
    `- ${rounds} round(s) × ${seconds} s per leg; C = concurrent senders (one keep-alive connection each)`,
    '',
    ...tableHead(
      'target',
      'C',
      'acked/s (rounds min–max)',
      'p50 ms',
      'p99 ms',
      'max ms',
      'target CPU µs/ack',
      'handler CPU µs/ack',
      'postgres CPU µs/ack',
      'generator CPU µs/ack',
      'other (cores)',
      'errors',
      'backlog after leg',
    ),
  );
  for (const c of levels) {
    for (const target of ['gateway', 'duplicate', 'direct'] as const) {
      if (!r.legs.some((l) => l.target === target && l.concurrency === c)) continue;
      const s = stats(target, c);
      out.push(
        tableRow(
          target === 'duplicate' ? 'gateway, duplicates (200, worker idle)' : target,
          c,
          `${f(s.rate, 0)} (${f(s.min, 0)}–${f(s.max, 0)})${s.exhausted ? ' ⚠ ran out of pre-signed' : ''}`,
          f(s.p50),
          f(s.p99),
          f(s.top, 1),
          f(s.cpu, 0),
          target === 'gateway' ? f(s.handler, 0) : '–',
          f(s.postgres, 0),
          f(s.generator, 0),
          f(s.other),
          s.errors,
          target === 'gateway' ? s.backlog : '–',
        ),
      );
    }
  }
  out.push(
    '',
    ...tableHead('C', 'acked/s gateway/direct', 'p50 ratio', 'p99 ratio', 'CPU/ack ratio'),
  );
  for (const c of levels) {
    const g = stats('gateway', c);
    const d = stats('direct', c);
    out.push(tableRow(c, f(g.rate / d.rate), f(g.p50 / d.p50), f(g.p99 / d.p99), f(g.cpu / d.cpu)));
  }
  const dup = stats('duplicate', levels[0]!);
  const floor = stats('direct', levels[0]!);
  out.push(
    tableRow(
      `${levels[0]} (duplicates, worker idle)`,
      f(dup.rate / floor.rate),
      f(dup.p50 / floor.p50),
      f(dup.p99 / floor.p99),
      f(dup.cpu / floor.cpu),
    ),
  );
  const e2eP50 = quantile(r.e2e, 0.5);
  out.push(
    '',
    `Delivery → task created (${r.e2e.length}/${r.e2eCount} at ${r.e2eRate}/s, DB clock: tasks.created_at − webhook_deliveries.received_at): p50 ${f(e2eP50, 1)} ms, p99 ${f(quantile(r.e2e, 0.99), 1)} ms, max ${f(r.e2e[r.e2e.length - 1] ?? Number.NaN, 1)} ms; the paced 202s: p50 ${f(quantile(r.e2eAck.latencies, 0.5))} ms, p99 ${f(quantile(r.e2eAck.latencies, 0.99))} ms, errors ${r.e2eAck.errors}.`,
  );
  // A drain of a few rows (after the 2 s warm-up) says nothing about the worker's rate.
  for (const d of r.drains.filter((x) => x.rows >= 1000)) {
    out.push(
      `Worker drain (no load): ${d.rows} deliveries in ${f(d.seconds, 1)} s = ${f(d.rows / d.seconds, 0)}/s (${d.left} left); per delivery: gateway ${f(d.gateway, 0)} µs, handler ${f(d.handler, 0)} µs, postgres ${f(d.postgres, 0)} µs CPU.`,
    );
  }
  const g16 = stats('gateway', 16);
  if (levels.includes(16)) {
    const met = g16.rate >= 2000 && g16.p99 < 25;
    out.push(
      '',
      `Targets: ≥ 2,000 acked/s with p99 < 25 ms at C=16 → ${met ? '**met**' : '**not met**'} (${f(g16.rate, 0)}/s, p99 ${f(g16.p99)} ms); delivery → task p50 < 50 ms → ${e2eP50 < 50 ? '**met**' : '**not met**'} (${f(e2eP50, 1)} ms).`,
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
