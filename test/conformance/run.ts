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
import { runEra } from './era.ts';
import { grantTask, INTEGRATION, redacted, startGateway, waitForFixture } from './gateway.ts';
import { cleanup, onCleanup, RunError, signalled } from './lifecycle.ts';
import { type Options, parseArgs, USAGE, UsageError } from './options.ts';
import { startAuthProxy } from './proxy.ts';
import type { EraReport } from './report.ts';
import { summarize } from './summary.ts';
import { ensureTools } from './tools.ts';

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

  const ok = summarize(reports, {
    database,
    databaseKind: options.databaseUrl ? 'postgres' : 'pglite',
    seconds: Math.round((Date.now() - started) / 1000),
    results,
    summaryFile: options.scenario ? undefined : summaryFile,
  });
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
