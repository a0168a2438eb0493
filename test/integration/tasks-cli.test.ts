import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { insertTaskEvent } from '../../gateway/src/events/store.ts';
import {
  ADMIN_KEY,
  REPO_ROOT,
  runSwitchboard,
  spawnSwitchboard,
  useTestGateway,
} from '../helpers/gateway.ts';

// `switchboard task run|list|watch|cancel` and `switchboard mcp-config` (issue 5) through a
// running gateway's API. No worker runs queued tasks in this branch: `watch` follows a task
// whose events the test writes with the event store and that it ends through the API.
// Each CLI run starts node + tsx (2–4 s on a busy 2-core machine), so the tests that run
// several get a deadline of 180 s instead of the default 60 s.
const MANY_RUNS = 180_000;
const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/integrations');
const POLICY = path.join(REPO_ROOT, 'test/fixtures/tasks-api/policy.yaml');

describe('switchboard task / mcp-config', () => {
  const gw = useTestGateway({ INTEGRATION_DIRS: FIXTURES, SWITCHBOARD_POLICY: POLICY });
  const env = () => ({ SWITCHBOARD_URL: gw().url, SWITCHBOARD_API_KEY: ADMIN_KEY });
  const cli = (...args: string[]) => runSwitchboard(args, env());
  const api = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${gw().url}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return (await res.json()) as Record<string, Record<string, unknown>>;
  };
  // CLI runs make this file outlive the 60 s signing-key reload, which once hung a grant on
  // PGlite (tokens.test.ts has the regression test); nothing is reloaded by hand here.
  const grantExternal = async (scope: string[]) => api('POST', '/tasks', { external: true, scope });

  it(
    'task run prints the id; the same --idempotency-key prints the same id; list and cancel',
    async () => {
      const args = [
        'task',
        'run',
        '--profile',
        'reviewer',
        '--prompt',
        'look at it',
        '--idempotency-key',
        'k1',
      ];
      const first = await cli(...args);
      expect(first.code, first.stderr).toBe(0);
      const id = first.stdout.trim();
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect((await cli(...args)).stdout.trim()).toBe(id);
      const listed = await cli('task', 'list', '--status', 'pending', '--profile', 'reviewer');
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.stdout).toMatch(/^ID +STATUS +PROFILE +REASON +CREATED +PROMPT$/m);
      expect(listed.stdout).toMatch(
        new RegExp(`^${id} +pending +reviewer +- +\\S+ +look at it$`, 'm'),
      );
      const cancelled = await cli('task', 'cancel', id);
      expect(cancelled).toMatchObject({
        code: 0,
        stdout: `task ${id} cancelled; its tokens are revoked\n`,
      });
      const again = await cli('task', 'cancel', id);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain(`409 task ${id} has already ended (cancelled)`);
      const json = JSON.parse(
        (await cli('task', 'list', '--status', 'cancelled', '--json')).stdout,
      );
      expect(json.tasks.map((t: { id: string }) => t.id)).toContain(id);
    },
    MANY_RUNS,
  );

  it(
    'usage errors exit 2 before any request; --help exits 0',
    async () => {
      for (const args of [
        ['task', 'run', '--prompt', 'x'],
        ['task', 'run', '--profile', 'p', '--prompt', 'x', '--timeout', 'soon'],
        ['task', 'run', '--profile', 'p', '--prompt', 'x', '--scope', 'echo'],
        ['task', 'list', '--status', 'done'],
        ['task', 'watch'],
        ['task', 'cancel', 'a', '--result', 'x'],
        ['task', 'frobnicate'],
        ['mcp-config', '--task', 'x', '--format', 'vim'],
        ['mcp-config', '--format', 'json'],
      ]) {
        const res = await cli(...args);
        expect(res.code, `${args.join(' ')}: ${res.stderr}`).toBe(2);
        expect(res.stderr).toContain('Usage:');
      }
      for (const args of [
        ['task', '--help'],
        ['task', 'run', '--help'],
        ['mcp-config', '--help'],
      ]) {
        const res = await cli(...args);
        expect(res.code).toBe(0);
        expect(res.stdout).toContain('Usage:');
      }
      const unknownProfile = await cli('task', 'run', '--profile', 'nobody', '--prompt', 'x');
      expect(unknownProfile.code).toBe(1);
      expect(unknownProfile.stderr).toContain(
        'no profile "nobody" in the policy (known: scripted, reviewer)',
      );
    },
    MANY_RUNS,
  );

  it(
    'task watch shows events live as they arrive and exits 1 when the task is cancelled',
    async () => {
      const id = (await cli('task', 'run', '--profile', 'scripted', '--prompt', 'w')).stdout.trim();
      const child = spawnSwitchboard(['task', 'watch', id], env());
      let stdout = '';
      const lines: Array<() => void> = [];
      child.stdout?.on('data', (d) => {
        stdout += d;
        for (const wake of lines.splice(0)) wake();
      });
      const waitFor = async (text: string) => {
        while (!stdout.includes(text)) await new Promise<void>((r) => lines.push(r));
      };
      const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
      await waitFor('created (profile scripted)');
      await insertTaskEvent(gw().sql, {
        taskId: id,
        type: 'task:tool_use',
        data: { integration: 'echo', tool: 'say', durationMs: 12.5, ok: true },
      });
      await waitFor('tool echo__say ok in 12.5 ms');
      await insertTaskEvent(gw().sql, {
        taskId: id,
        type: 'task:progress',
        data: { message: 'half way', progress: 1, total: 2 },
      });
      await waitFor('progress: half way (1/2)');
      await api('POST', `/tasks/${id}/cancel`, {});
      expect(await exited).toBe(1);
      expect(stdout).toMatch(/cancelled by key:/);
    },
    MANY_RUNS,
  );

  it(
    'task watch exits 0 with the result of a completed (external) task',
    async () => {
      const granted = await grantExternal(['echo:*']);
      const id = granted.task!.id as string;
      await api('POST', `/tasks/${id}/complete`, { result: 'all good' });
      const watched = await cli('task', 'watch', id);
      expect(watched.code, watched.stderr).toBe(0);
      expect(watched.stdout).toMatch(/running \(external\)\n.*complete\nall good\n$/);
    },
    MANY_RUNS,
  );

  it(
    'mcp-config prints the config of a running external task with fresh tokens',
    async () => {
      const granted = await grantExternal(['echo:*']);
      const id = granted.task!.id as string;
      const claude = await cli('mcp-config', '--task', id, '--format', 'claude');
      expect(claude.code, claude.stderr).toBe(0);
      const servers = JSON.parse(claude.stdout).mcpServers;
      expect(servers.echo).toMatchObject({ type: 'http', url: `${gw().url}/mcp/echo` });
      const token = /^export SWITCHBOARD_TOKEN=(\S+)$/m.exec(claude.stderr)?.[1];
      expect(await gw().tokens.verify(token!, `${gw().url}/mcp`)).toMatchObject({ taskId: id });
      // When they expire, and why then: with the grant (15m, the default TTL), not sooner.
      const expires = /^# the tokens expire at (\S+), when the task's time is up/m.exec(
        claude.stderr,
      )?.[1];
      expect(
        Math.abs(Date.parse(expires!) - Date.parse(granted.expiresAt as unknown as string)),
      ).toBeLessThanOrEqual(2_000);
      const codex = await cli('mcp-config', '--task', id, '--format', 'codex');
      expect(codex.stdout).toContain('[mcp_servers.echo]');
      const json = JSON.parse(
        (await cli('mcp-config', '--task', id, '--format', 'json', '--json')).stdout,
      );
      expect(json).toMatchObject({ taskId: id, format: 'json', path: 'switchboard.json' });
      await api('POST', `/tasks/${id}/complete`, {});
      const ended = await cli('mcp-config', '--task', id, '--format', 'goose');
      expect(ended.code).toBe(1);
      expect(ended.stderr).toContain('only issued to a running task');
    },
    MANY_RUNS,
  );
});
