import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { enqueueTask } from '../../gateway/src/tasks/queue.ts';
import { writeAgentPolicy } from '../fixtures/agents/policy.ts';
import { REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';
import { taskEnded } from '../helpers/tasks.ts';

// A profile's `retry` runs a failed agent again (issue 14). A hostile model can fail on purpose:
// the run it gave up must not leave it a live credential for the wait before the next run, the
// next run must not get more than the first, and failing for ever must end at `attempts`.
const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/integrations');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-retry-attack-'));

interface RunToken {
  token: string;
  mcpUrl: string;
}

const jtiOf = (token: string): string =>
  (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { jti: string })
    .jti;

describe('task retries against a failing agent', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: FIXTURES,
    SWITCHBOARD_POLICY: writeAgentPolicy(),
  });

  const ended = (taskId: string) => taskEnded(gw().sql, taskId);

  it("a failed run's tokens are revoked before its retry starts, and the retry gets no wider scope", async () => {
    const runs = path.join(tmp, 'runs.log');
    const tokensFile = path.join(tmp, 'tokens.jsonl');
    const { task } = await enqueueTask(gw().sql, {
      profile: 'retrying',
      prompt: JSON.stringify({ mode: 'flaky', fails: 1, out: runs, tokens: tokensFile }),
    });
    expect(await ended(task.id)).toMatchObject({ status: 'complete', attempts: 2 });

    const seen = fs
      .readFileSync(tokensFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as RunToken);
    expect(seen).toHaveLength(2);
    const [first, second] = seen.map((s) => jtiOf(s.token));
    expect(first).not.toBe(second);

    // The second run started after the first run's tokens were revoked (same clock: the database's).
    const [started] = await gw().sql<{ at: Date }[]>`
      select max(created_at) as at from task_events
       where task_id = ${task.id} and type = 'task:started'`;
    const rows = await gw().sql<
      { jti: string; scope: string; audience: string; revokedAt: Date | null; issuedAt: Date }[]
    >`select jti::text, scope, audience, revoked_at as "revokedAt", issued_at as "issuedAt"
        from tokens where task_id = ${task.id} order by issued_at, jti`;
    const firstRun = rows.filter((r) => r.issuedAt < started!.at);
    const secondRun = rows.filter((r) => r.issuedAt >= started!.at);
    expect(firstRun.map((r) => r.jti)).toContain(first);
    expect(secondRun.map((r) => r.jti)).toContain(second);
    for (const r of firstRun) {
      expect(r.revokedAt).not.toBeNull();
      expect(r.revokedAt!.getTime()).toBeLessThanOrEqual(started!.at.getTime());
    }
    // The same audiences and scopes, run after run.
    const shape = (list: { audience: string; scope: string }[]) =>
      list.map((r) => `${r.audience} ${r.scope}`).sort();
    expect(shape(secondRun)).toEqual(shape(firstRun));

    // Neither run's token opens /mcp now.
    for (const { token, mcpUrl } of seen) {
      const res = await fetch(mcpUrl, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(res.status).toBe(401);
    }
  });

  it('an agent failing every run is stopped at the profile retry.attempts, one dispatch row at the end', async () => {
    const runs = path.join(tmp, 'always.log');
    const { task } = await enqueueTask(gw().sql, {
      profile: 'retrying',
      prompt: JSON.stringify({ mode: 'flaky', fails: 1_000, out: runs }),
    });
    expect(await ended(task.id)).toMatchObject({ status: 'failed', attempts: 3 });
    expect(fs.readFileSync(runs, 'utf8')).toBe('run\nrun\nrun\n');
    const [outbox] = await gw().sql<{ n: number }[]>`
      select count(*)::int as n from outbox where task_id = ${task.id}`;
    expect(outbox!.n).toBeLessThanOrEqual(1);
  });
});
