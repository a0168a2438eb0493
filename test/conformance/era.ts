import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EndpointName } from './gateway.ts';
import { assertRunning, dropCleanup, exitCode, HERE, onCleanup, stopProcess } from './lifecycle.ts';
import type { AuthProxy } from './proxy.ts';
import { type EraReport, readBaseline, readScenarios, scoredScenarios } from './report.ts';
import type { Tools } from './tools.ts';

/** One era against one endpoint: the suite against the proxy, then what it found. */

export const ERAS = ['2025-11-25', '2026-07-28'] as const;
export type Era = (typeof ERAS)[number];

/** The committed expected failures of an endpoint at an era (test/conformance/baselines/). */
export function baselineFile(endpoint: string, era: string): string {
  return path.join(HERE, 'baselines', `${endpoint}-${era}.yml`);
}

export async function runEra(options: {
  tools: Tools;
  endpoint: EndpointName;
  era: Era;
  url: string;
  proxy: AuthProxy;
  scenario: string | undefined;
  /** The run's results folder; this era writes into <results>/<endpoint>/<era>/. */
  results: string;
}): Promise<EraReport> {
  const { tools, endpoint, era, url, proxy, scenario } = options;
  const outDir = path.join(options.results, endpoint, era);
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const baseline = baselineFile(endpoint, era);
  const args = [tools.suite, 'server', '--url', url, '-o', path.join(outDir, 'scenarios')];
  if (scenario) args.push('--scenario', scenario, '--spec-version', era);
  else args.push('--requirements', era, '--expected-failures', baseline);
  console.log(
    `\n=== conformance ${endpoint} ${era}: ${scenario ?? `requirements ${era}`} at ${url}`,
  );
  const started = Date.now();
  proxy.take();
  const log = fs.createWriteStream(path.join(outDir, 'suite.log'));
  assertRunning();
  const child = spawn(tools.node, args, {
    cwd: outDir,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.homedir() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const done = exitCode(child);
  const stop = onCleanup(() => stopProcess(child, done, 'conformance suite', 5_000));
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      log.write(chunk);
    });
  }
  const code = await done;
  dropCleanup(stop);
  assertRunning();
  await new Promise((resolve) => log.end(resolve));
  const exchanges = proxy.take();
  fs.writeFileSync(
    path.join(outDir, 'traffic.jsonl'),
    exchanges.map((e) => `${JSON.stringify(e)}\n`).join(''),
  );
  return {
    endpoint,
    era,
    exitCode: code,
    seconds: Math.round((Date.now() - started) / 1000),
    scenarios: readScenarios(
      path.join(outDir, 'scenarios'),
      scoredScenarios(path.dirname(path.dirname(tools.suite)), era),
      exchanges,
    ),
    baseline: scenario ? [] : readBaseline(baseline),
  };
}
