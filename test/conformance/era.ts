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

/**
 * The MCP tasks extension (SEP-2663, gateway/src/mcp-tasks/): a 2026-07-28 extension (the 2025
 * era's v1 tasks are not served), so scored on that era only.
 */
const MCP_TASKS_SCENARIOS = [
  'tasks-lifecycle',
  'tasks-capability-negotiation',
  'tasks-wire-fields',
  'tasks-request-state-removal',
  'tasks-mrtr-input',
  'tasks-request-headers',
  'tasks-dispatch-and-envelope',
  'tasks-status-notifications',
  'tasks-required-task-error',
  'tasks-mrtr-composition',
];

/**
 * Extension scenarios scored like required ones (the requirement sets list none: extensions are
 * optional). SEP-2640 skills (gateway/src/mcp/skills.ts): enumeration (skills/list, skills/get,
 * the entries, the SKILL.md read back) and manifest (the SKILL.md resource). Not
 * `sep-2640-skills-directory`: the gateway does not declare `directoryRead`, so every check of
 * it is SKIPPED and a pass would say nothing.
 */
export const EXTENSION_SCENARIOS = [
  'sep-2640-skills-enumeration',
  'sep-2640-skills-manifest',
  ...MCP_TASKS_SCENARIOS,
];

/** The scored extension scenarios of one era: the tasks ones speak the 2026-07-28 wire only. */
export function extensionScenarios(era: string): string[] {
  return era === '2026-07-28'
    ? EXTENSION_SCENARIOS
    : EXTENSION_SCENARIOS.filter((s) => !MCP_TASKS_SCENARIOS.includes(s));
}

/** One suite process against `url`, its output to the console and `log`; its exit code. */
async function runSuite(
  tools: Tools,
  url: string,
  outDir: string,
  log: fs.WriteStream,
  selection: string[],
): Promise<number | null> {
  const args = [tools.suite, 'server', '--url', url, '-o', path.join(outDir, 'scenarios')];
  args.push(...selection);
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
  return code;
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
  const log = fs.createWriteStream(path.join(outDir, 'suite.log'));
  const started = Date.now();
  proxy.take();
  let code: number | null;
  console.log(
    `\n=== conformance ${endpoint} ${era}: ${scenario ?? `requirements ${era}`} at ${url}`,
  );
  if (scenario) {
    // An extension scenario is on no spec timeline: the suite runs it at an era only if forced.
    const force = EXTENSION_SCENARIOS.includes(scenario) ? ['--force'] : [];
    code = await runSuite(tools, url, outDir, log, [
      '--scenario',
      scenario,
      '--spec-version',
      era,
      ...force,
    ]);
  } else {
    // Each suite run gets the baseline lines of what it runs (a line of a scenario it does not
    // run would be reported stale): the requirement set, then each extension scenario alone (the
    // suite selects extension scenarios only by name).
    const lines = readBaseline(baseline);
    const own = (name: string, keep: (scenario: string) => boolean) => {
      const file = path.join(outDir, `baseline-${name}.yml`);
      const kept = lines.filter((b) => keep(b.scenario)).map((b) => `  - ${b.entry}\n`);
      fs.writeFileSync(file, kept.length === 0 ? 'server: []\n' : `server:\n${kept.join('')}`);
      return file;
    };
    const required = own('required', (s) => !EXTENSION_SCENARIOS.includes(s));
    const extensions = extensionScenarios(era);
    code = await runSuite(tools, url, outDir, log, [
      '--requirements',
      era,
      '--expected-failures',
      required,
    ]);
    for (const name of extensions) {
      console.log(`\n=== conformance ${endpoint} ${era}: extension scenario ${name}`);
      const one = await runSuite(tools, url, outDir, log, [
        '--scenario',
        name,
        '--spec-version',
        era,
        '--force',
        '--expected-failures',
        own(name, (s) => s === name),
      ]);
      if (code === 0) code = one;
    }
  }
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
      new Set([
        ...scoredScenarios(path.dirname(path.dirname(tools.suite)), era),
        ...(scenario ? [] : extensionScenarios(era)),
      ]),
      exchanges,
    ),
    baseline: scenario ? [] : readBaseline(baseline),
  };
}
