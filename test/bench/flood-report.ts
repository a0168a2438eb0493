/**
 * flood-bench.ts's report: per flood kind its quiet leg and its flood leg, the victims' p50/p95
 * and their ratio (target ≤ 2×, issue 13), CPU, log written and what the streams heard, in
 * Markdown; then the integrations' states afterwards.
 */
import { tableHead, tableRow } from './markdown.ts';

export type Kind = 'list_changed' | 'progress' | 'stderr';

export interface Leg {
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

export function report(
  rows: Array<{ kind: Kind; quiet: Leg; flood: Leg }>,
  o: { header: string; integrations: Array<{ name: string; state: string }> },
): string {
  const f = (n: number) => (Number.isNaN(n) ? '-' : n.toFixed(1));
  const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
  const lines = [
    o.header,
    '',
    ...tableHead(
      'flood',
      'leg',
      'calls',
      'errors',
      'p50 ms',
      'p95 ms',
      'p50 ratio',
      'p95 ratio',
      'gateway CPU',
      'servers CPU',
      'bench CPU',
      'load avg',
      'log written',
      'flood calls (failed)',
      'list_changed heard by streams',
      'progress to the flooder',
    ),
  ];
  for (const { kind, quiet, flood: flooded } of rows) {
    for (const [name, l] of [
      ['quiet', quiet],
      ['flood', flooded],
    ] as const) {
      const ratio = (a: number, b: number) => (name === 'flood' ? `${(a / b).toFixed(2)}×` : '');
      lines.push(
        tableRow(
          kind,
          name,
          l.calls,
          l.errors,
          f(l.p50),
          f(l.p95),
          ratio(l.p50, quiet.p50),
          ratio(l.p95, quiet.p95),
          `${l.cpuPct.toFixed(0)} %`,
          `${l.serversCpuPct.toFixed(0)} %`,
          `${l.benchCpuPct.toFixed(0)} %`,
          l.load.toFixed(1),
          mb(l.logBytes),
          name === 'flood' ? `${l.floodCalls} (${l.floodFailed})` : '',
          l.heard,
          name === 'flood' && kind === 'progress' ? l.progress : '',
        ),
      );
    }
  }
  lines.push(
    '',
    `integrations afterwards: ${o.integrations.map((i) => `${i.name} ${i.state}`).join(', ')}`,
  );
  return lines.join('\n');
}
