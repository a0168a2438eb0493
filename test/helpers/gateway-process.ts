import type { ChildProcess } from 'node:child_process';
import { type TestDatabase, testDatabase } from './database.ts';
import { ADMIN_KEY, EMPTY_DIR, spawnSwitchboard } from './gateway.ts';

export interface GatewayProcess {
  child: ChildProcess;
  url: string;
  /** The environment it was started with (its data dir, database, master key). */
  env: Record<string, string>;
  logs: Array<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForLog(msg: string): Promise<Record<string, unknown>>;
  /** SIGKILL if still running, then drop its database. */
  cleanup(): Promise<void>;
}

/** A `switchboard start` that may still be booting: no URL yet. */
export type BootingGatewayProcess = Omit<GatewayProcess, 'url'> & {
  stderr(): string;
};

/**
 * `switchboard start` as a real process on a fresh database, with the admin key set and no
 * integrations unless `env` says otherwise; returns at once, while it boots. With `shared`, on
 * that database instead (replicas of one cluster, test/replicas/cluster.ts): cleanup leaves it.
 */
export async function spawnGatewayProcess(
  env: Record<string, string> = {},
  shared?: TestDatabase,
): Promise<BootingGatewayProcess> {
  const db = shared ?? (await testDatabase());
  const fullEnv: Record<string, string> = {
    ...db.env,
    PORT: '0',
    INTEGRATION_DIRS: EMPTY_DIR,
    SWITCHBOARD_ADMIN_KEY: ADMIN_KEY,
    ...env,
  };
  const child = spawnSwitchboard(['start'], fullEnv);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const cleanup = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    if (!shared) await db.cleanup();
  };
  const logs: Array<Record<string, unknown>> = [];
  const waiters: Array<{ msg: string; resolve: (l: Record<string, unknown>) => void }> = [];
  let buffer = '';
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  child.stdout?.on('data', (chunk) => {
    buffer += chunk;
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const text of lines) {
      const line = JSON.parse(text) as Record<string, unknown>;
      logs.push(line);
      for (const w of waiters.filter((w) => w.msg === line.msg)) w.resolve(line);
    }
  });
  const waitForLog = (msg: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const seen = logs.find((l) => l.msg === msg);
      if (seen) return resolve(seen);
      waiters.push({ msg, resolve });
      exited.then(({ code }) => reject(new Error(`exited ${code} before "${msg}": ${stderr}`)));
    });
  return { child, env: fullEnv, logs, exited, waitForLog, cleanup, stderr: () => stderr };
}

/** `switchboard start` as a real process (see spawnGatewayProcess); resolves once it listens. */
export async function startGatewayProcess(
  env: Record<string, string> = {},
  shared?: TestDatabase,
): Promise<GatewayProcess> {
  const gw = await spawnGatewayProcess(env, shared);
  try {
    const listening = await gw.waitForLog('switchboard gateway listening');
    return { ...gw, url: listening.url as string };
  } catch (error) {
    await gw.cleanup();
    throw error;
  }
}

/** The address a gateway process listens on (its public URL may be a proxy's). */
export function listenUrl(gw: GatewayProcess): string {
  const line = gw.logs.find((l) => l.msg === 'switchboard gateway listening');
  return `http://${String(line?.listen)}`;
}

/** The DATABASE_URL a gateway process was started with. */
export function gatewayDatabase(gw: GatewayProcess): string {
  if (!gw.env.DATABASE_URL) throw new Error('the gateway process has no DATABASE_URL');
  return gw.env.DATABASE_URL;
}
