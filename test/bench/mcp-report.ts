/**
 * mcp-bench.ts's report: per target and level the calls/s, latency and CPU per call, then the
 * ratios of what is compared — (a) gateway / mcp-proxy, (b) via the gateway / direct, (c) this
 * checkout / --base — in Markdown; and the line printed as each leg ends.
 */
import fs from 'node:fs';
import { tableHead, tableRow } from './markdown.ts';
import type { LegResult } from './mcp-legs.ts';
import type { Target } from './mcp-targets.ts';
import { quantile } from './measure.ts';
import type { Proc } from './processes.ts';

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

/** The tables, for the levels measured. */
export function report(
  results: LegResult[],
  targets: Target[],
  levels: number[],
  baseLabel = 'this checkout vs the --base checkout',
): string {
  const lines: string[] = [];
  const get = (key: string, c: number) =>
    summarize(results.filter((r) => r.target === key && r.concurrency === c));
  const has = (key: string) => targets.some((t) => t.key === key);
  lines.push(
    ...tableHead(
      'target',
      'C',
      'calls/s (rounds min–max)',
      'p50 ms',
      'p99 ms',
      'proxy CPU µs/call',
      'upstream CPU µs/call',
      'generator CPU µs/call',
      'other load (cores)',
      'errors',
    ),
  );
  for (const c of levels) {
    for (const t of targets) {
      const s = get(t.key, c);
      lines.push(
        tableRow(
          t.label,
          c,
          `${f0(s.callsPerSecond)} (${f0(s.roundRange[0])}–${f0(s.roundRange[1])})`,
          ms(s.p50),
          ms(s.p99),
          t.proxyPid ? f0(s.proxyUsPerCall) : '–',
          f0(s.upstreamUsPerCall),
          f0(s.generatorUsPerCall),
          f2(s.otherCores),
          s.errors,
        ),
      );
    }
  }
  if (has('gateway-stdio') && has('mcp-proxy')) {
    lines.push(
      '',
      '(a) gateway → stdio vs mcp-proxy → the same stdio command (ratio = gateway / mcp-proxy)',
      '',
      ...tableHead('C', 'calls/s ratio', 'CPU/call ratio', 'p50 ratio', 'p99 ratio', 'target'),
    );
    for (const c of levels) {
      const g = get('gateway-stdio', c);
      const p = get('mcp-proxy', c);
      const target = c === 16 ? '≥ 1.2× calls/s, ≤ 0.9× CPU' : '≥ 1.0× calls/s';
      lines.push(
        tableRow(
          c,
          f2(g.callsPerSecond / p.callsPerSecond),
          f2(g.proxyUsPerCall / p.proxyUsPerCall),
          f2(g.p50 / p.p50),
          f2(g.p99 / p.p99),
          target,
        ),
      );
    }
  }
  if (has('gateway-http') && has('direct-http')) {
    lines.push(
      '',
      '(b) gateway → HTTP upstream vs the HTTP upstream called directly (ratio = via gateway / direct)',
      '',
      ...tableHead('C', 'calls/s ratio', 'p50 added ms', 'p99 added ms', 'gateway CPU µs/call'),
    );
    for (const c of levels) {
      const g = get('gateway-http', c);
      const d = get('direct-http', c);
      lines.push(
        tableRow(
          c,
          f2(g.callsPerSecond / d.callsPerSecond),
          ms(g.p50 - d.p50),
          ms(g.p99 - d.p99),
          f0(g.proxyUsPerCall),
        ),
      );
    }
  }
  if (has('gateway-stdio-base') || has('gateway-http-base')) {
    lines.push(
      '',
      `(c) ${baseLabel} (ratio = this / base)`,
      '',
      ...tableHead(
        'C',
        'upstream',
        'calls/s ratio',
        'gateway CPU/call ratio',
        'p50 ratio',
        'p99 ratio',
      ),
    );
    for (const c of levels) {
      for (const kind of ['stdio', 'http']) {
        if (!has(`gateway-${kind}-base`)) continue;
        const now = get(`gateway-${kind}`, c);
        const before = get(`gateway-${kind}-base`, c);
        lines.push(
          tableRow(
            c,
            kind,
            f2(now.callsPerSecond / before.callsPerSecond),
            f2(now.proxyUsPerCall / before.proxyUsPerCall),
            f2(now.p50 / before.p50),
            f2(now.p99 / before.p99),
          ),
        );
      }
    }
  }
  return lines.join('\n');
}

/** The line printed (on stderr) as a leg ends, so a long run shows how it goes. */
export function legLine(t: Target, r: LegResult): string {
  return `C=${String(r.concurrency).padStart(2)} round ${r.round} ${t.key.padEnd(13)} ${f0(r.calls / r.seconds).padStart(5)} calls/s  proxy ${t.proxyPid ? f0((r.proxyCpuMs * 1000) / r.calls) : '–'} µs/call  other ${f2(r.otherCores)} cores  load ${r.loadavg}${r.errors ? `  ERRORS ${r.errors}: ${r.firstError}` : ''}\n`;
}

/**
 * What a process wrote besides its request lines: warnings (e.g. Node's
 * MaxListenersExceededWarning on stderr) cost CPU too, and say something is off.
 */
export function logStats(proc: Proc): string {
  const lines = fs.readFileSync(proc.logFile, 'utf8').split('\n');
  const warnings = lines.filter((l) => /Warning:|"level":"(warn|error|fatal)"/.test(l));
  const kinds = new Map<string, number>();
  for (const w of warnings) {
    const kind = /(\w+Warning)|"msg":"([^"]+)"/.exec(w);
    const key = kind?.[1] ?? kind?.[2] ?? w.slice(0, 60);
    kinds.set(key, (kinds.get(key) ?? 0) + 1);
  }
  return `${proc.name} log: ${lines.length} lines, ${warnings.length} warnings/errors${[...kinds].map(([k, n]) => `; ${k} ×${n}`).join('')}`;
}

/** The legs for --json: p50 and p99 instead of every latency. */
export function legsForJson(results: LegResult[]) {
  return results.map(({ latencies, ...rest }) => ({
    ...rest,
    p50: quantile(latencies.slice().sort(), 0.5),
    p99: quantile(latencies.slice().sort(), 0.99),
  }));
}
