import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BackgroundProcess,
  type ProcessSpec,
} from '../../gateway/src/integrations/background-process.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { REPO_ROOT } from '../helpers/gateway.ts';
import { alive, readReports, waitFor } from '../helpers/processes.ts';

// Manifest `processes` (issue 3 / issue 6): supervised like stdio servers — own process group,
// exact environment, output logged with the integration, restarted with backoff, graded stop.
const REPORTER = path.join(REPO_ROOT, 'test/fixtures/processes/reporter.mjs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-processes-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const FAST = { initialMs: 20, factor: 1.5, maxMs: 200, resetAfterMs: 30_000 };

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger('info', {
    write: (msg: string) => {
      lines.push(JSON.parse(msg) as Record<string, unknown>);
    },
  });
  return { log, lines };
}

function spec(env: Record<string, string>, overrides: Partial<ProcessSpec> = {}): ProcessSpec {
  return {
    integration: 'demo',
    name: 'listener',
    command: process.execPath,
    args: [REPORTER],
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    missing: [],
    ...overrides,
  };
}

describe('background processes', () => {
  it('runs with exactly the environment given and logs its output tagged with the integration', async () => {
    const file = path.join(tmp, 'env.jsonl');
    const { log, lines } = capture();
    const p = new BackgroundProcess(spec({ REPORT_FILE: file, TOKEN: 'x' }), log);
    p.start();
    try {
      await waitFor(() => readReports(file).length === 1);
      const [report] = readReports(file);
      // Node adds nothing of its own to a child's environment when env is given.
      expect(Object.keys(report!.env).sort()).toEqual(['PATH', 'REPORT_FILE', 'TOKEN']);
      expect(p.status()).toMatchObject({ name: 'listener', state: 'running', pid: report!.pid });
      await waitFor(() => lines.some((l) => l.stderr === 'reporter says hello on stderr'));
      expect(lines).toContainEqual(
        expect.objectContaining({
          integration: 'demo',
          process: 'listener',
          stdout: `reporter up pid=${report!.pid}`,
        }),
      );
    } finally {
      await p.stop();
    }
    expect(p.status().state).toBe('stopped');
  });

  it('restarts a process that exits, with backoff, and stops restarting once stopped', async () => {
    const file = path.join(tmp, 'crashing.jsonl');
    const p = new BackgroundProcess(
      spec({ REPORT_FILE: file, EXIT_CODE: '3' }),
      createLogger('silent'),
      FAST,
    );
    p.start();
    await waitFor(() => readReports(file).length >= 4);
    const status = p.status();
    expect(status.restarts).toBeGreaterThanOrEqual(3);
    // With the last thing it wrote to stderr: what an operator needs to see why.
    expect(status.lastExit).toBe('exited with code 3 (stderr: reporter says hello on stderr)');
    await p.stop();
    // Stopped with no child: a pending restart timer only respawns from 'backoff'.
    const stopped = p.status();
    expect(stopped).toMatchObject({ state: 'stopped', pid: undefined });
    const after = readReports(file).length;
    await new Promise((r) => setTimeout(r, 400)); // > FAST.maxMs: a restart would have happened
    expect(p.status().restarts).toBe(stopped.restarts);
    expect(readReports(file).length).toBe(after);
    expect(p.status().state).toBe('stopped');
  });

  it('stop signals the whole group: SIGTERM, then SIGKILL for one that ignores it', async () => {
    const file = path.join(tmp, 'stubborn.jsonl');
    const p = new BackgroundProcess(
      spec({ REPORT_FILE: file, IGNORE_SIGTERM: '1', SPAWN_CHILD: '1' }),
      createLogger('silent'),
    );
    p.start();
    await waitFor(() => readReports(file).length === 1);
    const { pid, childPid } = readReports(file)[0]!;
    expect(alive(pid) && alive(childPid!)).toBe(true);
    const started = Date.now();
    await p.stop();
    // 2 s of grace after SIGTERM, then SIGKILL to the group (the `sleep` grandchild included).
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    await waitFor(() => !alive(pid) && !alive(childPid!), 2_000);
  });

  it('waits, naming the settings, when its `requires` do not resolve', () => {
    const { log, lines } = capture();
    const p = new BackgroundProcess(spec({}, { missing: ['API_TOKEN'] }), log);
    p.start();
    expect(p.status()).toMatchObject({ state: 'waiting', pid: undefined, missing: ['API_TOKEN'] });
    expect(lines).toContainEqual(
      expect.objectContaining({
        integration: 'demo',
        process: 'listener',
        missing: ['API_TOKEN'],
        msg: 'process not started: required settings are not set',
      }),
    );
  });

  it('a command that does not exist is retried with backoff, not fatal', async () => {
    const p = new BackgroundProcess(
      spec({}, { command: 'switchboard-no-such-program' }),
      createLogger('silent'),
      FAST,
    );
    p.start();
    await waitFor(() => p.status().restarts >= 2);
    expect(p.status().lastExit).toMatch(
      /^could not start switchboard-no-such-program: spawn switchboard-no-such-program ENOENT$/,
    );
    await p.stop();
  });
});
