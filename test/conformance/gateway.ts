import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { isProcessAlive } from '../../gateway/src/containment/process-group.ts';
import {
  assertRunning,
  exitCode,
  HERE,
  onCleanup,
  REPO_ROOT,
  RunError,
  rel,
  sleep,
  stopProcess,
  withTimeout,
} from './lifecycle.ts';
import { TOOLS_DIR } from './tools.ts';

/**
 * The gateway under test: a real `switchboard start` on a free port, on a fresh database (a
 * temporary embedded PGlite, or a new database on the PostgreSQL server of --database-url),
 * with a policy that enables the fixture integration, the only one in its integrations root.
 */

const CLI = path.join(REPO_ROOT, 'gateway/bin/switchboard.js');
export const INTEGRATION = 'fixture';
/** A cold embedded database and the fixture's first start, on a busy 2-core machine. */
const START_TIMEOUT_MS = 180_000;

export interface Gateway {
  /** The gateway's own listen URL (the API is called here; agents go through the proxy). */
  listenUrl: string;
  adminKey: string;
}

/** Where agents reach the fixture: alone (names unprefixed) and on the aggregate `/mcp`. */
export interface Endpoint {
  url: string;
  token: string;
}
export const ENDPOINTS = ['fixture', 'aggregate'] as const;
export type EndpointName = (typeof ENDPOINTS)[number];

/**
 * An integrations root holding a fresh copy of servers/fixture and nothing else. A copy because
 * discover.ts does not follow symlinks (it checks Dirent.isDirectory()) and the copy's manifest
 * is changed (below); inside the repository
 * (.cache/, gitignored) because the fixture (its built dist/server.js, copied along) imports
 * @modelcontextprotocol/server, resolved from the nearest node_modules walking up.
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
  // The copy's skills (docs/manifest.md `skills`): test/conformance/skills/, so the SEP-2640
  // scenarios (sep-2640-skills-*) have one to list, get and read. Not in servers/fixture itself:
  // the tests that run that folder through a gateway expect an integration without skills.
  if (text.includes('\nskills:')) throw new Error(`${manifest}: expected no skills folder`);
  fs.cpSync(path.join(HERE, 'skills'), path.join(root, INTEGRATION, 'skills'), { recursive: true });
  fs.writeFileSync(
    manifest,
    `${text.replace('instances: shared', 'instances: task').trimEnd()}\nskills: skills/\n`,
  );
  return root;
}

/**
 * A new, empty database on the server of `serverUrl` (dropped on cleanup), so a run never sees
 * another's rows; the gateway migrates it at start. The name is lowercase hex: no quoting.
 */
async function freshPostgresDatabase(serverUrl: string): Promise<string> {
  const name = `switchboard_conformance_${randomBytes(6).toString('hex')}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } catch (error) {
    throw new RunError(`cannot create a database on ${redacted(serverUrl)}: ${String(error)}`);
  } finally {
    await admin.end();
  }
  onCleanup(async () => {
    const sql = postgres(serverUrl, { max: 1, onnotice: () => {} });
    try {
      await sql.unsafe(`drop database if exists ${name} with (force)`);
    } finally {
      await sql.end();
    }
  });
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A database URL as it may be printed: without its password. */
export function redacted(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  if (url.password) url.password = '***';
  return url.toString();
}

export async function startGateway(
  publicUrl: string,
  logFile: string,
  databaseUrl: string | undefined,
): Promise<Gateway> {
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
  if (databaseUrl) env.DATABASE_URL = await freshPostgresDatabase(databaseUrl);
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

export async function waitForFixture(gw: Gateway): Promise<void> {
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
  mcp: Endpoint;
  integrations: Array<{ name: string; url: string; token: string }>;
}

/** An external task scoped to the fixture, ended (its tokens revoked) on cleanup. */
export async function grantTask(gw: Gateway): Promise<Record<EndpointName, Endpoint>> {
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
  return { fixture: { url: entry.url, token: entry.token }, aggregate: granted.mcp };
}
