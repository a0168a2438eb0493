import fs from 'node:fs';
import { baselineFile } from './era.ts';
import { rel } from './lifecycle.ts';
import { type EraReport, format, tally } from './report.ts';

/**
 * The end of a run: every endpoint and era's report, the one-line verdict, and summary.json,
 * the tallies .ci/run sums into its closing lines ({ ok, seconds, database, eras: [{ endpoint,
 * era, exitCode, required, passed, expected, unexpected, stale }] }).
 */
export function summarize(
  reports: EraReport[],
  o: {
    /** As printed: `PGlite` or `PostgreSQL <url without password>`. */
    database: string;
    databaseKind: 'postgres' | 'pglite';
    seconds: number;
    results: string;
    /** Where summary.json goes; none for a --scenario run. */
    summaryFile: string | undefined;
  },
): boolean {
  const { seconds, results } = o;
  const ok = reports.every((r) => r.exitCode === 0);
  const lines = [
    '',
    `=== conformance summary (the gateway on ${o.database}, through the auth proxy)`,
  ];
  for (const r of reports) lines.push(...format(r, rel(baselineFile(r.endpoint, r.era))));
  const tallies = reports.map((r) => ({
    endpoint: r.endpoint,
    era: r.era,
    exitCode: r.exitCode,
    ...tally(r),
  }));
  const short = tallies.map(
    (t) =>
      `${t.endpoint} ${t.era} ${t.passed}/${t.required} passed, ${t.expected} expected failures` +
      `${t.exitCode === 0 ? '' : ` (${t.unexpected} unexpected, ${t.stale.length} stale)`}`,
  );
  lines.push(`conformance: ${ok ? 'ok' : 'FAILED'}: ${short.join('; ')}; ${seconds} s`);
  lines.push(
    `results: ${rel(results)}/<endpoint>/<era>/ (suite.log, scenarios/*/checks.json, traffic.jsonl)`,
  );
  console.log(lines.join('\n'));
  if (o.summaryFile) {
    const summary = { ok, seconds, database: o.databaseKind, eras: tallies };
    fs.writeFileSync(o.summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
  }
  return ok;
}
