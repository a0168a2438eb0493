/**
 * A real `switchboard start` for a benchmark: its database made first by `switchboard migrate`
 * (a process of its own, so initdb and the migrations are in no measured CPU or profile), then
 * started detached on a free loopback port and awaited until the named integrations are ready.
 * And the external task grant every benchmark's clients get their tokens from.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../helpers/processes.ts';
import { logTail, type Proc, type Processes, REPO, until } from './processes.ts';

export const ADMIN_KEY = `bench-admin-key-${'0123456789abcdef'.repeat(3)}`;

export interface BenchGateway {
  proc: Proc;
  url: string;
  /** From the launch to the first `/readyz` 200, polled every 20 ms. */
  readyMs: number;
  /** The admin API (`/api/v1<route>`) with the admin key. */
  admin(route: string, init?: RequestInit): Promise<Response>;
}

export interface BenchGatewayOptions {
  /** The process's name (and log file's); default `gateway`. */
  name?: string;
  /** A checkout to run the gateway of (`--base`); default this one. */
  repo?: string;
  dataDir: string;
  integrations: { dirs: string; policy: string };
  /** PostgreSQL; the embedded PGlite in `dataDir` without. */
  databaseUrl?: string | undefined;
  /** Run under `node --cpu-prof`, the profiles written here. */
  profileDir?: string | undefined;
  /** More environment (LOG_LEVEL, …). */
  env?: Record<string, string>;
  /** The integrations that must be `ready` before it is measured. */
  ready: string[];
  /** Run `switchboard migrate` first (default); false for a restart on an existing data dir. */
  migrate?: boolean;
}

export async function startBenchGateway(
  processes: Processes,
  o: BenchGatewayOptions,
): Promise<BenchGateway> {
  const name = o.name ?? 'gateway';
  const repo = o.repo ?? REPO;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(port),
    HOST: '127.0.0.1',
    ...o.env,
    SWITCHBOARD_DATA_DIR: o.dataDir,
    SWITCHBOARD_MASTER_KEY: '5a'.repeat(32),
    SWITCHBOARD_ADMIN_KEY: ADMIN_KEY,
    INTEGRATION_DIRS: o.integrations.dirs,
    SWITCHBOARD_POLICY: o.integrations.policy,
    ...(o.databaseUrl && { DATABASE_URL: o.databaseUrl }),
  };
  const cli = path.join(repo, 'gateway/bin/switchboard.js');
  if (o.migrate !== false) {
    execFileSync(process.execPath, [cli, 'migrate'], { cwd: repo, env, stdio: 'ignore' });
  }
  const launched = performance.now();
  const proc = processes.launch(
    name,
    [...(o.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`] : []), cli, 'start'],
    env,
  );
  const admin = (route: string, init: RequestInit = {}) =>
    fetch(`${url}/api/v1${route}`, {
      ...init,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    });
  const readyMs = await until(
    `the ${name}`,
    60_000,
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`${name} exited: ${logTail(proc)}`);
      const res = await fetch(`${url}/readyz`);
      return res.ok ? performance.now() - launched : undefined;
    },
    20,
  );
  await until('the integrations', 60_000, async () => {
    if (proc.child.exitCode !== null) throw new Error(`${name} exited: ${logTail(proc)}`);
    const body = (await (await admin('/integrations')).json()) as {
      integrations: Array<{ name: string; state: string }>;
    };
    const ready = new Set(body.integrations.filter((i) => i.state === 'ready').map((i) => i.name));
    return o.ready.every((n) => ready.has(n)) ? true : undefined;
  });
  return { proc, url, readyMs, admin };
}

export interface Granted {
  task: { id: string };
  /** The aggregate `/mcp`. */
  mcp: { url: string; token: string };
  /** Each integration's own endpoint `/mcp/<name>`. */
  integrations: Array<{ name: string; url: string; token: string }>;
}

/** One external task with `scope`: its tokens, as an agent outside the gateway gets them. */
export async function grantExternalTask(gw: BenchGateway, scope: string[]): Promise<Granted> {
  const res = await gw.admin('/tasks', {
    method: 'POST',
    body: JSON.stringify({ external: true, scope }),
  });
  if (res.status !== 201) throw new Error(`grant: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as Granted;
}
