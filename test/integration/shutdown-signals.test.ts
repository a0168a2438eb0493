import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { usingPostgres } from '../helpers/database.ts';
import { ADMIN_KEY, REPO_ROOT } from '../helpers/gateway.ts';
import { type BootingGatewayProcess, spawnGatewayProcess } from '../helpers/gateway-process.ts';
import { freePort, isRunning, killAll, readReports, waitFor } from '../helpers/processes.ts';

// SIGTERM or SIGINT at any point of `switchboard start` (still loading, opening the database,
// migrating, starting integrations, just ready, shutting down) ends in exit 0 with everything it
// started gone: stdio servers, background processes and their children, the embedded database's
// lock. Issue 12 item 3: the handlers used to be installed only once boot had finished, while
// /readyz already answered 200, so a SIGTERM there killed the process (143) and left the rest.
const STDIO_SERVER = path.join(REPO_ROOT, 'test/fixtures/upstreams/stdio-server.ts');
const REPORTER = path.join(REPO_ROOT, 'test/fixtures/processes/reporter.mjs');

interface Fixture {
  env: Record<string, string>;
  /** Every pid the integration started so far: stdio servers, the process and its child. */
  pids(): number[];
  stdioStarted(): boolean;
}

/**
 * One integration with a stdio server and a background process that starts a child of its own.
 * Inside the repository so that `node --import tsx` there finds tsx.
 */
function integrationFixture(options: { ignoreSigterm?: boolean } = {}): Fixture {
  const root = fs.mkdtempSync(path.join(REPO_ROOT, 'test/fixtures/.generated-'));
  cleanups.push(async () => fs.rmSync(root, { recursive: true, force: true }));
  const stdioPids = path.join(root, 'stdio.pids');
  const reports = path.join(root, 'reports.jsonl');
  fs.mkdirSync(path.join(root, 'integrations/kept'), { recursive: true });
  fs.writeFileSync(
    path.join(root, 'integrations/kept/switchboard.yaml'),
    `apiVersion: switchboard/v1
name: kept
version: 1.0.0
description: a stdio server and a process with a child, which every shutdown must end
server:
  transport: stdio
  command: sh
  args: ["-c", "echo $$ >> '${stdioPids}'; exec node --import tsx '${STDIO_SERVER}'"]
settings:
  - { key: REPORT_FILE, default: "${reports}" }
  - { key: SPAWN_CHILD, default: "1" }
  - { key: IGNORE_SIGTERM, default: "${options.ignoreSigterm ? '1' : '0'}" }
processes:
  - name: worker
    command: node
    args: ["${REPORTER}"]
    requires: [REPORT_FILE, SPAWN_CHILD, IGNORE_SIGTERM]
capabilities: [processes]
`,
  );
  fs.writeFileSync(
    path.join(root, 'policy.yaml'),
    `apiVersion: switchboard/policy/v1
integrations:
  kept: { enabled: true, grants: [processes] }
`,
  );
  const stdio = () =>
    fs.existsSync(stdioPids)
      ? fs
          .readFileSync(stdioPids, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map(Number)
      : [];
  return {
    env: {
      INTEGRATION_DIRS: path.join(root, 'integrations'),
      SWITCHBOARD_POLICY: path.join(root, 'policy.yaml'),
    },
    pids: () => [
      ...stdio(),
      ...readReports(reports).flatMap((r) => [r.pid, ...(r.childPid ? [r.childPid] : [])]),
    ],
    stdioStarted: () => stdio().length > 0,
  };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function boot(fixture: Fixture, env: Record<string, string> = {}) {
  const gw = await spawnGatewayProcess({ ...fixture.env, ...env });
  cleanups.push(gw.cleanup);
  return gw;
}

const lockFile = (gw: BootingGatewayProcess) =>
  path.join(gw.env.SWITCHBOARD_DATA_DIR!, 'pglite.lock');

/** Exit 0, and nothing it started is left: no process, no database lock. */
async function expectCleanExit(gw: BootingGatewayProcess, fixture: Fixture) {
  expect(await gw.exited, gw.stderr()).toEqual({ code: 0, signal: null });
  const left = fixture.pids().filter(isRunning);
  expect(left).toEqual([]);
  expect(fs.existsSync(lockFile(gw))).toBe(false);
}

describe('a signal at any point of start-up or shutdown', () => {
  it('while the process is still loading: exit 0, nothing started', async () => {
    const fixture = integrationFixture();
    const gw = await boot(fixture);
    // Node's own start takes ~50 ms of CPU, loading the gateway's code 1–2 s: at 200 ms the
    // bin's first line has run and main.ts has not.
    await waitFor(() => cpuSeconds(gw.child.pid!) >= 0.2, 30_000, 2);
    expect(gw.logs).toEqual([]);
    gw.child.kill('SIGTERM');
    await expectCleanExit(gw, fixture);
    expect(fixture.pids()).toEqual([]);
  });

  it.skipIf(usingPostgres)('while the embedded database opens', async () => {
    const fixture = integrationFixture();
    const gw = await boot(fixture);
    // The lock is taken first; PGlite then takes about a second to open the data dir.
    await waitFor(() => fs.existsSync(lockFile(gw)), 30_000, 5);
    gw.child.kill('SIGTERM');
    await expectCleanExit(gw, fixture);
    expect(gw.logs.map((l) => l.msg)).toContain('shut down');
    expect(fixture.pids()).toEqual([]);
  });

  it('during the migrations', async () => {
    const fixture = integrationFixture();
    const gw = await boot(fixture);
    await gw.waitForLog('migration applied');
    gw.child.kill('SIGINT');
    await expectCleanExit(gw, fixture);
    expect(gw.logs.find((l) => l.msg === 'shutting down')).toMatchObject({ reason: 'SIGINT' });
  });

  it('while the integrations start', async () => {
    const fixture = integrationFixture();
    const gw = await boot(fixture);
    await waitFor(fixture.stdioStarted, 30_000, 5);
    gw.child.kill('SIGTERM');
    await expectCleanExit(gw, fixture);
    expect(fixture.pids().length).toBeGreaterThan(0);
  });

  it('right after /readyz first answers 200', async () => {
    const fixture = integrationFixture();
    const port = await freePort();
    const gw = await boot(fixture, { PORT: String(port) });
    let ready = false;
    while (!ready) {
      if (gw.child.exitCode !== null) throw new Error(`exited: ${gw.stderr()}`);
      ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
    }
    gw.child.kill('SIGTERM');
    await expectCleanExit(gw, fixture);
    expect(gw.logs.find((l) => l.msg === 'shut down')).toMatchObject({ graceful: true });
  });

  it('a second signal during shutdown cuts open requests and still closes everything: exit 0', async () => {
    const fixture = integrationFixture();
    // A deadline far beyond the test timeout: only the second signal can cut the held request.
    const gw = await boot(fixture, { SWITCHBOARD_SHUTDOWN_TIMEOUT_MS: '600000' });
    const listening = await gw.waitForLog('switchboard gateway listening');
    await gw.waitForLog('process started');
    await waitFor(() => fixture.pids().length >= 3, 30_000);
    const held = holdRequest(listening.url as string);
    await held.sent;
    gw.child.kill('SIGTERM');
    await gw.waitForLog('shutting down');
    gw.child.kill('SIGTERM');
    await expect(held.response).rejects.toThrow(/socket hang up|ECONNRESET/);
    await expectCleanExit(gw, fixture);
    expect(gw.logs.map((l) => l.msg)).toContain(
      'second signal: cutting open requests now (a third exits at once)',
    );
    expect(gw.logs.find((l) => l.msg === 'shut down')).toMatchObject({ graceful: false });
  });

  it('a third signal exits at once with 1', async () => {
    // A process that ignores SIGTERM holds shutdown for its 2 s kill step: time for a third.
    const fixture = integrationFixture({ ignoreSigterm: true });
    const gw = await boot(fixture);
    await gw.waitForLog('switchboard gateway listening');
    await waitFor(() => fixture.pids().length >= 3, 30_000);
    cleanups.push(async () => {
      killAll(fixture.pids().filter(isRunning));
    });
    gw.child.kill('SIGTERM');
    await gw.waitForLog('shutting down');
    // Two different signals, so that the kernel cannot merge them into one.
    gw.child.kill('SIGINT');
    gw.child.kill('SIGTERM');
    expect(await gw.exited).toEqual({ code: 1, signal: null });
    expect(gw.logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining([
        'second signal: cutting open requests now (a third exits at once)',
        'third signal: exiting now',
      ]),
    );
    expect(gw.logs.map((l) => l.msg)).not.toContain('shut down');
  });
});

/** User + system CPU time a process has used, from /proc (clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** A POST whose body never completes, so the gateway has a request in flight. */
function holdRequest(url: string) {
  const req = http.request(`${url}/api/v1/keys`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${ADMIN_KEY}`,
      'content-type': 'application/json',
      'content-length': 1000,
    },
  });
  const response = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
  response.catch(() => {});
  const sent = new Promise<void>((resolve) => req.write('{"name":', () => resolve()));
  return { response, sent };
}
