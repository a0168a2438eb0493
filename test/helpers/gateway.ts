import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { loadConfig } from '../../gateway/src/config.ts';
import { type Gateway, startGateway } from '../../gateway/src/gateway.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { testDatabase } from './database.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = path.join(REPO_ROOT, 'gateway/bin/switchboard.js');

/** A policy `runner:` (flow YAML) that starts the reference agent: the gateway's own CLI. */
export const REFERENCE_AGENT_RUNNER = `{ driver: process, command: "{switchboard}", args: [agent, --bundle, "{workdir}"] }`;

/** An integrations root with nothing in it. */
export const EMPTY_DIR = path.join(REPO_ROOT, 'test/fixtures/empty');

/** A fixed admin key for tests: 64 hex characters. */
export const ADMIN_KEY = 'test-admin-key-0123456789abcdef0123456789abcdef0123456789abcdef';

/** Log lines captured as objects, so tests can assert what was (and was not) logged. */
export function captureLogs(): {
  lines: Record<string, unknown>[];
  text: () => string;
  stream: Writable;
} {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return {
    stream,
    text: () => chunks.join(''),
    get lines() {
      return chunks
        .join('')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
  };
}

/**
 * The gateway in this process, on a free loopback port. Its environment (where settings may come
 * from) is this process's, the configuration `env`, and `otherEnv`: variables a real gateway's
 * environment may hold that are not its configuration (PGPASSWORD, SWITCHBOARD_SETTING_…).
 */
export async function startTestGateway(
  env: Record<string, string | undefined>,
  otherEnv: Record<string, string | undefined> = {},
): Promise<Gateway & { logs: ReturnType<typeof captureLogs>; stop(): Promise<void> }> {
  // No integrations unless a test asks: the foundation tests should not spawn example servers.
  const configEnv = {
    PORT: '0',
    LOG_LEVEL: 'debug',
    INTEGRATION_DIRS: EMPTY_DIR,
    SWITCHBOARD_MASTER_KEY: '5a'.repeat(32),
    ...env,
  };
  const config = loadConfig(configEnv, REPO_ROOT);
  const logs = captureLogs();
  const gateway = await startGateway(config, createLogger(config.logLevel, logs.stream), {
    ...process.env,
    ...configEnv,
    ...otherEnv,
  });
  // Tests look at integrations right away; in production they may still be `starting`.
  await gateway.registry.whenSettled();
  return { ...gateway, logs, stop: async () => void (await gateway.shutdown.run('test')) };
}

export type TestGateway = Awaited<ReturnType<typeof startTestGateway>>;

/**
 * One gateway on a fresh database for a whole describe block, with SWITCHBOARD_ADMIN_KEY set.
 * Returns a getter: the gateway exists only once beforeAll has run.
 */
export function useTestGateway(
  env: Record<string, string> = {},
  otherEnv: Record<string, string> = {},
): () => TestGateway {
  let gateway: TestGateway | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const db = await testDatabase();
    cleanup = db.cleanup;
    gateway = await startTestGateway(
      { ...db.env, SWITCHBOARD_ADMIN_KEY: ADMIN_KEY, ...env },
      otherEnv,
    );
  });
  afterAll(async () => {
    await gateway?.stop();
    await cleanup?.();
  });
  return () => {
    if (!gateway) throw new Error('useTestGateway: the gateway is not started yet');
    return gateway;
  };
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Run the real `switchboard` bin with only the given environment (plus PATH and HOME); `stdin`,
 * when given, is written to its standard input and closed (otherwise stdin is /dev/null).
 */
export function runSwitchboard(
  args: string[],
  env: Record<string, string | undefined>,
  stdin?: string,
): Promise<CliResult> {
  const child = spawnSwitchboard(args, env, stdin === undefined ? 'ignore' : 'pipe');
  child.stdin?.end(stdin);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export function spawnSwitchboard(
  args: string[],
  env: Record<string, string | undefined>,
  stdin: 'ignore' | 'pipe' = 'ignore',
): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: [stdin, 'pipe', 'pipe'],
  });
}
