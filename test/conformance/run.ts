/**
 * Runs the official MCP conformance suite's SERVER scenarios against the gateway, on two
 * endpoints (`/mcp/fixture`, and the aggregate `/mcp` where the fixture's names are prefixed
 * `fixture__`), once per protocol era, each against its committed baseline of expected
 * failures. What it does, and why, is in test/conformance/README.md.
 *
 *   npx tsx test/conformance/run.ts [--endpoint fixture|aggregate|all] [--era ERA|all]
 *     [--scenario NAME] [--database-url URL] [--results DIR]
 *
 * Exit 0 when every endpoint and era matched its baseline exactly (no new failure, no stale
 * entry), 1 otherwise, 2 on a usage error; 130/143 when interrupted (everything started is
 * stopped first).
 */
import fs from 'node:fs';
import path from 'node:path';
import { baselineFile, ERAS, type Era, runEra } from './era.ts';
import {
  ENDPOINTS,
  type EndpointName,
  grantTask,
  INTEGRATION,
  redacted,
  startGateway,
  waitForFixture,
} from './gateway.ts';
import { cleanup, onCleanup, REPO_ROOT, RunError, rel, signalled } from './lifecycle.ts';
import { startAuthProxy } from './proxy.ts';
import { type EraReport, format, tally } from './report.ts';
import { ensureTools } from './tools.ts';

interface Options {
  endpoints: EndpointName[];
  eras: Era[];
  scenario: string | undefined;
  /** A PostgreSQL server to run on (a fresh database is made there); embedded PGlite without. */
  databaseUrl: string | undefined;
  results: string;
}

const USAGE = `Usage: npx tsx test/conformance/run.ts [options]

  --endpoint      fixture (/mcp/fixture), aggregate (/mcp) or all (default: all)
  --era           2025-11-25, 2026-07-28 or all (default: all, one after the other)
  --scenario      run one scenario at the era's wire version instead of the requirement set,
                  without the baseline (for investigating; the exit code is the suite's own)
  --database-url  a PostgreSQL server (postgres://…): the gateway runs on a fresh database made
                  there, dropped afterwards (default: $DATABASE_URL; unset: embedded PGlite)
  --results       where results go (default: results/conformance)`;

class UsageError extends Error {}

function parseArgs(argv: string[]): Options {
  const options: Options = {
    endpoints: [...ENDPOINTS],
    eras: [...ERAS],
    scenario: undefined,
    databaseUrl: process.env.DATABASE_URL || undefined,
    results: path.join(REPO_ROOT, 'results/conformance'),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (flag === '--era') {
      const era = value();
      if (era === 'all') options.eras = [...ERAS];
      else if ((ERAS as readonly string[]).includes(era)) options.eras = [era as Era];
      else throw new UsageError(`--era: expected ${ERAS.join(', ')} or all, got ${era}`);
    } else if (flag === '--endpoint') {
      const endpoint = value();
      if (endpoint === 'all') options.endpoints = [...ENDPOINTS];
      else if ((ENDPOINTS as readonly string[]).includes(endpoint))
        options.endpoints = [endpoint as EndpointName];
      else
        throw new UsageError(
          `--endpoint: expected ${ENDPOINTS.join(', ')} or all, got ${endpoint}`,
        );
    } else if (flag === '--scenario') {
      options.scenario = value();
    } else if (flag === '--database-url') {
      options.databaseUrl = value();
    } else if (flag === '--results') {
      options.results = path.resolve(value());
    } else {
      throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  if (options.databaseUrl !== undefined) {
    let protocol = '';
    try {
      protocol = new URL(options.databaseUrl).protocol;
    } catch {}
    if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
      throw new UsageError('--database-url: expected a postgres:// URL');
    }
  }
  return options;
}

async function main(): Promise<number> {
  let options: Options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`conformance: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  const started = Date.now();
  const { results } = options;
  /** What .ci/run reads for its closing lines (written only by full runs, not --scenario). */
  const summaryFile = path.join(results, 'summary.json');
  fs.mkdirSync(results, { recursive: true });
  fs.rmSync(summaryFile, { force: true });
  const tools = await ensureTools();
  const database = options.databaseUrl ? `PostgreSQL ${redacted(options.databaseUrl)}` : 'PGlite';

  const proxy = await startAuthProxy();
  onCleanup(() => proxy.close());
  console.log(
    `conformance: starting the gateway on ${database} (public URL = the auth proxy ${proxy.url})`,
  );
  const gw = await startGateway(proxy.url, path.join(results, 'gateway.log'), options.databaseUrl);
  proxy.setTarget(gw.listenUrl);
  await waitForFixture(gw);
  const endpoints = await grantTask(gw);
  console.log(`conformance: gateway at ${gw.listenUrl}, fixture ready, task granted`);

  const reports: EraReport[] = [];
  for (const endpoint of options.endpoints) {
    const { url, token } = endpoints[endpoint];
    proxy.setToken(token);
    // The aggregate names the fixture's tools and prompts `fixture__<name>` (proxy.ts).
    proxy.setNamePrefix(endpoint === 'aggregate' ? `${INTEGRATION}__` : undefined);
    for (const era of options.eras) {
      reports.push(
        await runEra({ tools, endpoint, era, url, proxy, scenario: options.scenario, results }),
      );
    }
  }
  await cleanup();

  const ok = reports.every((r) => r.exitCode === 0);
  const seconds = Math.round((Date.now() - started) / 1000);
  const lines = [
    '',
    `=== conformance summary (the gateway on ${database}, through the auth proxy)`,
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
  if (!options.scenario) {
    const summary = {
      ok,
      seconds,
      database: options.databaseUrl ? 'postgres' : 'pglite',
      eras: tallies,
    };
    fs.writeFileSync(summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
  }
  return ok ? 0 : 1;
}

main().then(
  async (code) => {
    await cleanup();
    process.exit(signalled ?? code);
  },
  async (error: unknown) => {
    if (signalled === undefined) {
      const message = error instanceof RunError ? error.message : ((error as Error).stack ?? error);
      console.error(`conformance: ${message}`);
    }
    await cleanup();
    process.exit(signalled ?? 1);
  },
);
