import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { requestApproval } from '../../gateway/src/approvals/requests.ts';
import { ADMIN_KEY, REPO_ROOT, runSwitchboard, useTestGateway } from '../helpers/gateway.ts';

// The operator surface of approvals (issue 15 point 5): GET /api/v1/approvals and its pages,
// approve and deny through the API and the real CLI, the statuses a reader sees (expired,
// cancelled), and `task watch` showing the requests. Requests are made the way the approvals
// guard makes them (requestApproval, on the gateway's own database and event bus) for external
// tasks granted through the API: they stay running until a test ends them.
// Each CLI run starts node + tsx (2–4 s on a busy 2-core machine): 180 s for the CLI test.
const MANY_RUNS = 180_000;
const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/integrations');
const POLICY = path.join(REPO_ROOT, 'test/fixtures/tasks-api/policy.yaml');
/** 8 tasks × 4 requests: past the caps' 5 waiting per task, and ids past 9 on every page. */
const TASKS = 8;
const PER_TASK = 4;

// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; the API validates them
type Json = Record<string, any>;

describe('approvals API and CLI', () => {
  const gw = useTestGateway({ INTEGRATION_DIRS: FIXTURES, SWITCHBOARD_POLICY: POLICY });
  const call = async (method: string, route: string, body?: unknown, key = ADMIN_KEY) => {
    const res = await fetch(`${gw().url}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Json };
  };
  const grant = async (): Promise<string> => {
    const granted = await call('POST', '/tasks', { external: true, scope: ['echo:*'] });
    expect(granted.status, JSON.stringify(granted.json)).toBe(201);
    return granted.json.task.id;
  };
  let hash = 0;
  const ask = async (taskId: string, timeoutMs = 600_000, tool = 'echo'): Promise<string> => {
    hash += 1;
    const outcome = await requestApproval(
      { sql: gw().sql, publish: gw().publishTaskEvents },
      {
        key: { taskId, integration: 'echo', tool, argumentsHash: `sha256:${hash}` },
        rule: { name: 'review-echo', timeoutMs, message: 'someone looks first' },
        arguments: { text: `call ${hash}` },
        announceTypes: [],
      },
    );
    if (outcome.kind !== 'waiting') throw new Error(`expected a new request, got ${outcome.kind}`);
    return outcome.row.id;
  };
  /** An operator key of its own, so decidedBy can be checked against its prefix. */
  let operator: { key: string; actor: string };
  const tasks: string[] = [];
  /** In the order they were made (ascending seq). */
  const made: Array<{ id: string; taskId: string }> = [];

  beforeAll(async () => {
    const created = await call('POST', '/keys', { name: 'approver', scopes: ['approvals:*'] });
    expect(created.status).toBe(201);
    operator = { key: created.json.key, actor: `key:${created.json.apiKey.prefix}` };
    for (let t = 0; t < TASKS; t++) tasks.push(await grant());
    // Round robin, so one task's requests are spread over the pages.
    for (let i = 0; i < PER_TASK; i++) {
      for (const taskId of tasks) made.push({ id: await ask(taskId), taskId });
    }
  });

  it('lists 32 requests newest first in pages of 7, by seq as a number; filters by task and status', async () => {
    const seen: Json[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await call('GET', `/approvals?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status, JSON.stringify(page.json)).toBe(200);
      seen.push(...page.json.approvals);
      cursor = page.json.next;
      pages += 1;
    } while (cursor !== null && pages < 10);
    expect(pages).toBe(5);
    expect(seen.map((a) => a.id)).toEqual(made.map((m) => m.id).reverse());
    const first = seen.at(-1)!;
    expect(first).toEqual({
      id: made[0]!.id,
      taskId: tasks[0],
      rule: 'review-echo',
      integration: 'echo',
      tool: 'echo',
      arguments: { text: expect.stringMatching(/^call \d+$/) },
      status: 'pending',
      requestedAt: expect.any(String),
      expiresAt: expect.any(String),
      decidedAt: null,
      decidedBy: null,
      reason: null,
      usedAt: null,
    });
    expect(Date.parse(first.expiresAt) - Date.parse(first.requestedAt)).toBe(600_000);

    const ofTask = await call('GET', `/approvals?task=${tasks[3]}`);
    expect(ofTask.json.approvals.map((a: Json) => a.id)).toEqual(
      made
        .filter((m) => m.taskId === tasks[3])
        .map((m) => m.id)
        .reverse(),
    );
    expect(ofTask.json.next).toBeNull();
    const pending = await call('GET', '/approvals?status=pending&limit=500');
    expect(pending.json.approvals).toHaveLength(TASKS * PER_TASK);
    expect((await call('GET', '/approvals?status=denied')).json).toEqual({
      approvals: [],
      next: null,
    });
    const one = await call('GET', `/approvals/${made[9]!.id}`);
    expect(one.json.approval).toMatchObject({ id: made[9]!.id, status: 'pending' });
    for (const [query, path] of [
      ['status=waiting', 'status'],
      ['task=nope', 'task'],
      ['limit=0', 'limit'],
      ['cursor=abc', 'cursor'],
      ['other=1', ''],
    ]) {
      const bad = await call('GET', `/approvals?${query}`);
      expect(bad.status, query).toBe(400);
      expect(bad.json.error.code).toBe('invalid_request');
      if (path) expect(bad.json.error.issues[0].path).toBe(path);
    }
  });

  it('OpenAPI lists the four routes with their scopes and shapes', async () => {
    const doc = (await call('GET', '/openapi.json')).json;
    expect(doc.paths['/approvals'].get['x-switchboard-scope']).toBe('approvals:read');
    expect(doc.paths['/approvals/{id}'].get['x-switchboard-scope']).toBe('approvals:read');
    for (const verb of ['approve', 'deny']) {
      const op = doc.paths[`/approvals/{id}/${verb}`].post;
      expect(op['x-switchboard-scope']).toBe('approvals:write');
      expect(JSON.stringify(op.requestBody)).toContain('reason');
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '409']));
    }
  });

  it('approve: approved, decided by the key, audited, an event; deciding again is 409', async () => {
    const { id, taskId } = made[12]!;
    const approved = await call('POST', `/approvals/${id}/approve`, {}, operator.key);
    expect(approved.status, JSON.stringify(approved.json)).toBe(200);
    expect(approved.json.approval).toMatchObject({
      id,
      taskId,
      status: 'approved',
      decidedBy: operator.actor,
      reason: null,
      usedAt: null,
    });
    expect(Date.parse(approved.json.approval.decidedAt)).toBeGreaterThan(0);
    const audit = await call('GET', '/audit?action=approval.approve');
    expect(audit.json.entries).toHaveLength(1);
    expect(audit.json.entries[0]).toMatchObject({
      actor: operator.actor,
      target: id,
      details: { taskId, rule: 'review-echo', integration: 'echo', tool: 'echo' },
    });
    const events = await gw().sql<{ data: Json }[]>`
      select data from task_events where task_id = ${taskId} and type = 'task:approval_decided'`;
    expect(events.map((e) => e.data)).toEqual([
      {
        approvalId: id,
        status: 'approved',
        rule: 'review-echo',
        integration: 'echo',
        tool: 'echo',
        by: operator.actor,
      },
    ]);
    for (const verb of ['approve', 'deny']) {
      const again = await call('POST', `/approvals/${id}/${verb}`, { reason: 'again' });
      expect(again.status).toBe(409);
      expect(again.json.error).toMatchObject({
        code: 'approval_not_pending',
        message: `approval ${id} is approved (by ${operator.actor}); only a pending one can be decided`,
      });
    }
    const listed = await call('GET', '/approvals?status=approved');
    expect(listed.json.approvals.map((a: Json) => a.id)).toEqual([id]);
    const pending = await call('GET', '/approvals?status=pending&limit=500');
    expect(pending.json.approvals.map((a: Json) => a.id)).not.toContain(id);
  });

  it('deny needs a reason (trimmed, at most 1000 characters); denied with it; then 409', async () => {
    const { id } = made[20]!;
    for (const body of [{}, { reason: '' }, { reason: '   ' }, { reason: 7 }]) {
      const refused = await call('POST', `/approvals/${id}/deny`, body, operator.key);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.json.error.issues[0].path).toBe('reason');
    }
    const denied = await call(
      'POST',
      `/approvals/${id}/deny`,
      { reason: '  not on a Friday  ' },
      operator.key,
    );
    expect(denied.json.approval).toMatchObject({
      status: 'denied',
      reason: 'not on a Friday',
      decidedBy: operator.actor,
    });
    const audit = await call('GET', '/audit?action=approval.deny');
    expect(audit.json.entries[0]).toMatchObject({
      target: id,
      details: { reason: 'not on a Friday' },
    });
    const again = await call('POST', `/approvals/${id}/approve`, {}, operator.key);
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('approval_not_pending');
  });

  it('a request nobody decided in time reads expired and cannot be approved late', async () => {
    const taskId = await grant();
    const id = await ask(taskId, 1);
    await sleep(50);
    const shown = await call('GET', `/approvals/${id}`);
    expect(shown.json.approval.status).toBe('expired');
    const listed = await call('GET', '/approvals?status=expired');
    expect(listed.json.approvals.map((a: Json) => a.id)).toEqual([id]);
    expect((await call('GET', `/approvals?status=pending&task=${taskId}`)).json.approvals).toEqual(
      [],
    );
    const late = await call('POST', `/approvals/${id}/approve`, {}, operator.key);
    expect(late.status).toBe(409);
    expect(late.json.error.message).toContain('is expired');
    const [row] = await gw().sql<{ status: string; decided_by: string | null }[]>`
      select status, decided_by from approvals where id = ${id}`;
    expect(row).toEqual({ status: 'pending', decided_by: null });
  });

  it('a request whose task ended reads cancelled and cannot be decided', async () => {
    const taskId = await grant();
    const ids = [await ask(taskId), await ask(taskId), await ask(taskId)];
    const ended = await call('POST', `/tasks/${taskId}/complete`, { result: 'done anyway' });
    expect(ended.status).toBe(200);
    const listed = await call('GET', `/approvals?task=${taskId}`);
    expect(listed.json.approvals.map((a: Json) => [a.id, a.status])).toEqual(
      ids.map((id) => [id, 'cancelled']).reverse(),
    );
    const cancelled = await call('GET', '/approvals?status=cancelled');
    expect(cancelled.json.approvals.map((a: Json) => a.id)).toEqual([...ids].reverse());
    const deny = await call('POST', `/approvals/${ids[0]}/deny`, { reason: 'x' }, operator.key);
    expect(deny.status).toBe(409);
    expect(deny.json.error.message).toContain('is cancelled');
  });

  it(
    'CLI: list (table and --json), approve, deny (reason required); task watch shows both events',
    async () => {
      const env = { SWITCHBOARD_URL: gw().url, SWITCHBOARD_API_KEY: operator.key };
      const cli = (...args: string[]) => runSwitchboard(args, env);
      const taskId = await grant();
      const [first, second] = [await ask(taskId, 600_000, 'echo'), await ask(taskId)];

      const table = await cli('approvals', 'list', '--status', 'pending', '--task', taskId);
      expect(table.code, table.stderr).toBe(0);
      expect(table.stdout).toMatch(/^ID +TOOL +STATUS +AGE +EXPIRES +DECIDED BY +TASK$/m);
      expect(table.stdout).toMatch(
        new RegExp(`^${first} +echo:echo +pending +\\d+s +in (9m\\d+s|10m) +- +${taskId}$`, 'm'),
      );
      expect(table.stdout.trim().split('\n')).toHaveLength(3);
      const paged = await cli('approvals', 'list', '--limit', '2');
      expect(paged.code).toBe(0);
      expect(paged.stderr).toMatch(/^more: --cursor [1-9]\d*\n$/);

      const approved = await cli('approvals', 'approve', first, '--reason', 'looks fine');
      expect(approved).toMatchObject({
        code: 0,
        stdout: `approved ${first} (echo:echo, task ${taskId}): looks fine\n`,
      });
      const noReason = await cli('approvals', 'deny', second);
      expect(noReason.code).toBe(2);
      expect(noReason.stderr).toContain('deny needs --reason TEXT');
      const denied = await cli('approvals', 'deny', second, '--reason', 'wrong repository');
      expect(denied.code, denied.stderr).toBe(0);
      expect(denied.stdout).toBe(
        `denied ${second} (echo:echo, task ${taskId}): wrong repository\n`,
      );
      const twice = await cli('approvals', 'deny', second, '--reason', 'again');
      expect(twice.code).toBe(1);
      expect(twice.stderr).toContain('409 approval');
      expect(twice.stderr).toContain('only a pending one can be decided');

      const json = JSON.parse((await cli('approvals', 'list', '--task', taskId, '--json')).stdout);
      expect(json.approvals.map((a: Json) => [a.id, a.status, a.decidedBy])).toEqual([
        [second, 'denied', operator.actor],
        [first, 'approved', operator.actor],
      ]);
      const badStatus = await cli('approvals', 'list', '--status', 'waiting');
      expect(badStatus.code).toBe(2);
      // Past the API's 500: refused by the CLI with the same bound (it let 999 through).
      const badLimit = await cli('approvals', 'list', '--limit', '501');
      expect(badLimit.code).toBe(2);
      expect(badLimit.stderr).toContain('--limit "501": expected a whole number from 1 to 500');

      expect((await call('POST', `/tasks/${taskId}/complete`, {})).status).toBe(200);
      const watch = await runSwitchboard(['task', 'watch', taskId], {
        SWITCHBOARD_URL: gw().url,
        SWITCHBOARD_API_KEY: ADMIN_KEY,
      });
      expect(watch.code, watch.stderr).toBe(0);
      expect(watch.stdout).toMatch(
        new RegExp(
          `approval ${first} requested for echo:echo \\(someone looks first\\), until \\S+; approve with: switchboard approvals approve ${first}\n`,
        ),
      );
      expect(watch.stdout).toContain(
        `approval ${first} approved for echo:echo by ${operator.actor}: looks fine\n`,
      );
      expect(watch.stdout).toContain(
        `approval ${second} denied for echo:echo by ${operator.actor}: wrong repository\n`,
      );
    },
    MANY_RUNS,
  );
});
