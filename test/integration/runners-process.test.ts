import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { buildBundle } from '../../gateway/src/runners/bundle.ts';
import { removeWorkdir, writeBundle } from '../../gateway/src/runners/files.ts';
import { ProcessRunner } from '../../gateway/src/runners/process.ts';
import type { OutputLine, RunRequest } from '../../gateway/src/runners/runner.ts';
import { REPO_ROOT } from '../helpers/gateway.ts';
import { alive, waitFor } from '../helpers/processes.ts';

// The process runner with real processes (issue 5): env isolation, live output, timeout and
// cancel killing the whole process tree, ENOENT, and the bundle written with 0600 files.
const AGENT = path.join(REPO_ROOT, 'test/fixtures/runners/agent.mjs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-runners-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const bundle = buildBundle({
  publicUrl: 'http://127.0.0.1:8080',
  taskId: 'task-1',
  sessionId: 'session-1',
  token: 'tok-mcp',
  integrations: [{ name: 'github', url: 'http://127.0.0.1:8080/mcp/github', token: 'tok-gh' }],
  switchboardServer: { url: 'http://127.0.0.1:8080/mcp/switchboard', token: 'tok-sb' },
});
// What the gateway's own environment holds and an agent must never see.
const HOST_ENV = {
  PATH: process.env.PATH,
  LANG: 'en_US.UTF-8',
  DATABASE_URL: 'postgres://secret@db/prod',
  SWITCHBOARD_MASTER_KEY: 'master-key-secret',
  SWITCHBOARD_ADMIN_KEY: 'admin-key-secret',
};

function runner(args: string[], env?: Record<string, string>, command = process.execPath) {
  return new ProcessRunner({ driver: 'process', command, args, env }, { hostEnv: HOST_ENV });
}

async function request(overrides: Partial<RunRequest> = {}) {
  const lines: OutputLine[] = [];
  const workdir = await writeBundle(bundle, tmp);
  const req: RunRequest = {
    prompt: 'review "PR" #42; echo $HOME',
    bundle,
    workdir,
    timeoutMs: 30_000,
    onLine: (line) => lines.push(line),
    ...overrides,
  };
  return { req, lines, workdir };
}

describe('writeBundle', () => {
  it('writes every format into a fresh 0700 folder with 0600 files', async () => {
    const dir = await writeBundle(bundle, tmp);
    try {
      expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
      for (const file of [
        '.mcp.json',
        '.codex/config.toml',
        '.cursor/mcp.json',
        '.config/goose/config.yaml',
        'switchboard.json',
      ])
        expect(fs.statSync(path.join(dir, file)).mode & 0o777).toBe(0o600);
      expect(path.basename(dir)).toMatch(/^switchboard-task-task-1-/);
    } finally {
      await removeWorkdir(dir);
    }
    expect(fs.existsSync(dir)).toBe(false);
  });
});

describe('ProcessRunner', () => {
  it('starts with a minimal environment + profile env + bundle env, never the gateway’s', async () => {
    const out = path.join(tmp, 'env.json');
    const { req, lines, workdir } = await request();
    const result = await runner([AGENT, 'env', out, '{prompt}', '{mcp_json}'], {
      AGENT_MODE: 'test',
      SWITCHBOARD_TOKEN: 'profile-cannot-override',
    }).run(req);
    expect(result).toEqual({ reason: 'exited', exitCode: 0, signal: null, stdoutTail: 'done' });
    expect(lines).toEqual([{ stream: 'stdout', line: 'done' }]);
    const seen = JSON.parse(fs.readFileSync(out, 'utf8')) as {
      env: Record<string, string>;
      argv: string[];
      cwd: string;
    };
    expect(seen.env).toEqual({
      PATH: process.env.PATH,
      HOME: workdir,
      LANG: 'en_US.UTF-8',
      AGENT_MODE: 'test',
      ...bundle.env,
    });
    expect(seen.env.SWITCHBOARD_TOKEN).toBe('tok-mcp');
    expect(JSON.stringify(seen.env)).not.toMatch(/secret|master-key|admin-key/);
    expect(seen.argv).toEqual([
      'env',
      out,
      'review "PR" #42; echo $HOME',
      path.join(workdir, '.mcp.json'),
    ]);
    expect(fs.realpathSync(seen.cwd)).toBe(fs.realpathSync(workdir));
  });

  it('does not leak the real process.env either (default host env)', async () => {
    const out = path.join(tmp, 'env-default.json');
    // Restored after the test (vitest.config.ts unstubEnvs), even when it fails.
    vi.stubEnv('DATABASE_URL', 'postgres://leak@db/x');
    vi.stubEnv('SWITCHBOARD_MASTER_KEY', 'leaked-master');
    const { req } = await request();
    const r = new ProcessRunner({
      driver: 'process',
      command: process.execPath,
      args: [AGENT, 'env', out],
    });
    expect((await r.run(req)).reason).toBe('exited');
    const { env } = JSON.parse(fs.readFileSync(out, 'utf8')) as { env: Record<string, string> };
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.SWITCHBOARD_MASTER_KEY).toBeUndefined();
  });

  it('delivers output lines in order while the process still runs', async () => {
    const gate = path.join(tmp, 'gate');
    const { req, lines } = await request();
    const running = runner([AGENT, 'lines', '3', gate]).run(req);
    for (const i of [1, 2]) {
      // the agent waits for gate.i before printing the next line: line i arrived while it ran
      await waitFor(() => lines.length === i);
      expect(lines.at(-1)).toEqual({ stream: 'stdout', line: `line ${i}` });
      fs.writeFileSync(`${gate}.${i}`, '');
    }
    const result = await running;
    expect(lines.map((l) => l.line)).toEqual(['line 1', 'line 2', 'line 3']);
    expect(result).toMatchObject({
      reason: 'exited',
      exitCode: 0,
      stdoutTail: 'line 1\nline 2\nline 3',
    });
  });

  it('reports a non-zero exit code', async () => {
    const { req } = await request();
    expect(await runner([AGENT, 'exit', '3']).run(req)).toEqual({
      reason: 'exited',
      exitCode: 3,
      signal: null,
      stdoutTail: 'bye',
    });
  });

  it('on timeout kills the agent and a child that ignores SIGTERM', async () => {
    const pids = path.join(tmp, 'tree-timeout.json');
    const { req } = await request({ timeoutMs: 5_000 });
    const result = await runner([AGENT, 'tree', pids]).run(req);
    expect(result).toMatchObject({ reason: 'timeout', stdoutTail: 'tree up' });
    const { pid, childPid } = JSON.parse(fs.readFileSync(pids, 'utf8')) as Record<string, number>;
    await waitFor(() => !alive(pid!) && !alive(childPid!));
  });

  it('on cancel (AbortSignal) kills the agent and its children', async () => {
    const pids = path.join(tmp, 'tree-cancel.json');
    const controller = new AbortController();
    const { req, lines } = await request({ signal: controller.signal });
    const running = runner([AGENT, 'tree', pids]).run(req);
    await waitFor(() => lines.some((l) => l.line === 'tree up'));
    const { pid, childPid } = JSON.parse(fs.readFileSync(pids, 'utf8')) as Record<string, number>;
    expect(alive(pid!) && alive(childPid!)).toBe(true);
    controller.abort();
    expect((await running).reason).toBe('cancelled');
    await waitFor(() => !alive(pid!) && !alive(childPid!));
  });

  it('an already aborted signal starts nothing', async () => {
    const { req } = await request({ signal: AbortSignal.abort() });
    expect((await runner([AGENT, 'exit', '0']).run(req)).reason).toBe('cancelled');
  });

  it('reports a missing command clearly (ENOENT)', async () => {
    const { req } = await request();
    const result = await runner([], undefined, 'no-such-agent-xyz').run(req);
    expect(result).toEqual({
      reason: 'spawn_failed',
      exitCode: null,
      signal: null,
      stdoutTail: '',
      error: 'could not start no-such-agent-xyz: not found on PATH (ENOENT)',
    });
  });
});
