/**
 * Lifecycle hooks (issue 18, manifest `events:`) under attack: an integration's hook reaching
 * the tasks of another integration's sessions (sessions: own; sessions: all without the
 * policy's events.all grant), an agent calling a hook tool with a forged event, a flood of task
 * events growing the outbox, a hook that is gone or an integration that is disabled.
 * Integrations: test/fixtures/lifecycle-hooks (alpha, beta: own; gamma: all, not granted;
 * delta: all, granted).
 */
import fs from 'node:fs';
import { parseManifest } from '@switchboard/sdk';
import { describe, expect, it } from 'vitest';
import { insertTaskEvents, insertToolUseEvents } from '../../gateway/src/events/store.ts';
import { callsOfTask, useHooksGateway } from '../helpers/hooks.ts';
import { grantTask, integrationOf, messagesOf, post, toolCall } from '../helpers/mcp-gateway.ts';

describe('lifecycle hooks under attack', () => {
  const hooks = useHooksGateway();
  const { gw, calls } = hooks;

  /** Runs one task through a webhook of `integration` into `key`; answers its id once ended. */
  const runTask = async (integration: string, key: string, dispatch?: unknown) => {
    const deliveryId = await hooks.post(integration, [
      { session: { key, ...(dispatch ? { dispatch } : {}) }, message: 'hi' },
    ]);
    let taskId = '';
    await expect
      .poll(
        async () => {
          const [t] = await gw().sql<{ id: string; status: string }[]>`
            select id::text, status from tasks where delivery_id = ${deliveryId}`;
          taskId = t?.id ?? '';
          return t?.status;
        },
        { timeout: 30_000 },
      )
      .toMatch(/^(complete|failed)$/);
    return taskId;
  };
  const hookRows = (taskId: string, integration: string) =>
    gw().sql<{ id: string; status: string }[]>`
      select id::text, status from outbox
       where task_id = ${taskId} and target->>'type' = 'hook'
         and target->>'integration' = ${integration}`;

  it("sessions: own — beta gets nothing of alpha's sessions, nor alpha of beta's", async () => {
    // Its result goes to a webhook target: the config is alpha's own, not delta's to read.
    const target = { type: 'webhook', config: { url: 'http://127.0.0.1:9/alpha-only' } };
    const alphaTask = await runTask('alpha', 'alpha:secret-thread', target);
    const betaTask = await runTask('beta', 'beta:own-thread');
    // Positive controls first: each hook got its own task's start and end.
    await expect
      .poll(() => callsOfTask(calls('alpha'), alphaTask).length, { timeout: 20_000 })
      .toBe(2);
    await expect
      .poll(() => callsOfTask(calls('beta'), betaTask).length, { timeout: 20_000 })
      .toBe(2);
    // delta has sessions: all, granted: it sees both (only task:started, its one type).
    await expect
      .poll(() => callsOfTask(calls('delta'), alphaTask).map((c) => c.event.type), {
        timeout: 20_000,
      })
      .toEqual(['task:started']);
    // The task's dispatch target reaches its own integration's hook only.
    expect(callsOfTask(calls('alpha'), alphaTask)[0]).toMatchObject({ dispatch: target });
    expect(callsOfTask(calls('delta'), alphaTask)[0]).not.toHaveProperty('dispatch');
    expect(calls('beta').filter((c) => c.session.key.startsWith('alpha:'))).toEqual([]);
    expect(calls('alpha').filter((c) => c.session.key.startsWith('beta:'))).toEqual([]);
    // Not merely undelivered: no row was ever written for the other integration.
    expect(await hookRows(alphaTask, 'beta')).toEqual([]);
    expect(await hookRows(betaTask, 'alpha')).toEqual([]);
  }, 60_000);

  it('sessions: all without the events.all grant is refused by the policy, naming the grant', async () => {
    const gamma = gw().registry.get('gamma')!;
    expect(gamma.state).toBe('refused');
    expect(gamma.reasons).toContainEqual({
      code: 'capability_not_granted',
      message: expect.stringContaining('"events.all"'),
    });
    expect(await gw().sql`select 1 from event_hooks where integration = 'gamma'`).toHaveLength(0);
    expect(
      await gw().sql`select 1 from outbox where target->>'integration' = 'gamma'`,
    ).toHaveLength(0);
    expect(calls('gamma')).toEqual([]);
    // And a manifest cannot take every session without asking for events.all at all.
    const manifest = fs
      .readFileSync(`${process.cwd()}/test/fixtures/lifecycle-hooks/gamma/switchboard.yaml`, 'utf8')
      .replace('capabilities: [events, events.all]', 'capabilities: [events]');
    const parsed = parseManifest(manifest, 'gamma/switchboard.yaml');
    expect(parsed.ok).toBe(false);
    expect(JSON.stringify(parsed)).toContain('events.all\\" because events[0] has sessions: all');
    const noEvents = manifest.replace('capabilities: [events]', 'capabilities: []');
    expect(JSON.stringify(parseManifest(noEvents, 'x'))).toContain(
      '"events\\" because the manifest declares 1 event hook',
    );
    const visible = manifest.replace('hidden: [on_webhook, on_task_event]', 'hidden: [on_webhook]');
    expect(JSON.stringify(parseManifest(visible, 'x'))).toContain(
      'only the gateway may call hook tools',
    );
  });

  it("an agent's token cannot call a hook tool, on /mcp or /mcp/<integration>", async () => {
    const granted = await grantTask(gw(), ['alpha:*']);
    const alpha = integrationOf(granted, 'alpha');
    const forged = {
      event: {
        type: 'task:done',
        seq: '999999001',
        taskId: granted.task.id,
        createdAt: 'x',
        data: {},
      },
      session: { id: 'x', key: 'alpha:forged' },
      integration: 'alpha',
    };
    for (const [url, token, name] of [
      [granted.mcp.url, granted.mcp.token, 'alpha__on_task_event'],
      [alpha.url, alpha.token, 'on_task_event'],
    ] as const) {
      const res = await post(url, token, toolCall(1, name, forged));
      const [answer] = messagesOf(res.headers.get('content-type'), await res.text());
      expect(answer).toMatchObject({ error: { code: -32602, message: `Tool ${name} not found` } });
    }
    // The visible tool works with the same token (the refusal is the hook's, not the token's).
    const res = await post(alpha.url, alpha.token, toolCall(2, 'whoami'));
    const [ok] = messagesOf(res.headers.get('content-type'), await res.text());
    expect(ok).toMatchObject({ result: { content: [{ type: 'text', text: 'alpha' }] } });
    expect(calls('alpha').filter((c) => c.event.seq === '999999001')).toEqual([]);
  });

  // What bounds a hook's rows: only HOOK_EVENT_TYPES match (a few per task attempt, attempts
  // bounded by the profile's retry), one row per matching hook (≤ 10 per integration, one
  // event_hooks row each). The outbox itself is not pruned by retention, as before hooks: the
  // same holds for dispatch and subscription rows.
  it('a flood of task events: tool calls write no hook row; lifecycle events one per matching hook', async () => {
    const taskId = await runTask('alpha', 'alpha:flood');
    await expect.poll(async () => (await hookRows(taskId, 'alpha')).length).toBe(2);
    const outboxCount = async () =>
      (await gw().sql<{ n: number }[]>`select count(*)::int as n from outbox`)[0]!.n;
    const start = await outboxCount();
    // 2,000 tool calls and 500 progress events: not hook types, no row at all.
    await insertToolUseEvents(
      gw().sql,
      Array.from({ length: 2_000 }, () => taskId),
      Array.from({ length: 2_000 }, (_, n) => JSON.stringify({ tool: 'whoami', n })),
    );
    await insertTaskEvents(
      gw().sql,
      Array.from({ length: 500 }, (_, n) => ({ taskId, type: 'task:progress', data: { n } })),
    );
    expect(await outboxCount()).toBe(start);
    // 40 task:started (as 40 attempts would write): one row each for alpha (own) and delta
    // (all), none for beta: rows = events × matching hooks, never more.
    await insertTaskEvents(
      gw().sql,
      Array.from({ length: 40 }, (_, n) => ({
        taskId,
        type: 'task:started',
        data: { attempt: n },
      })),
    );
    expect(await outboxCount()).toBe(start + 80);
    expect(await hookRows(taskId, 'alpha')).toHaveLength(42);
    expect(await hookRows(taskId, 'delta')).toHaveLength(41);
    expect(await hookRows(taskId, 'beta')).toHaveLength(0);
    // A huge event's data is capped in the row (8 KiB of JSON, then {truncated, bytes}).
    await insertTaskEvents(gw().sql, [
      { taskId, type: 'task:done', data: { blob: 'x'.repeat(100_000) } },
    ]);
    const [row] = await gw().sql<{ payload: { event: { data: unknown } } }[]>`
      select payload from outbox where task_id = ${taskId} and target->>'integration' = 'alpha'
       order by id desc limit 1`;
    expect(row!.payload.event.data).toEqual({ truncated: true, bytes: expect.any(Number) });
  }, 60_000);

  it('a hook row whose hook is no longer declared dead-letters without calling anything', async () => {
    await gw().sql`
      insert into event_hooks (integration, tool, types) values ('alpha', 'whoami', '{task:started}')`;
    try {
      const taskId = await runTask('alpha', 'alpha:gone');
      const rows = () =>
        gw().sql<{ status: string; error: string }[]>`
          select status, last_error as error from outbox
           where task_id = ${taskId} and target->>'tool' = 'whoami'`;
      await expect.poll(async () => (await rows())[0]?.status, { timeout: 20_000 }).toBe('dead');
      expect((await rows())[0]!.error).toContain('no longer declared');
    } finally {
      await gw().sql`delete from event_hooks where integration = 'alpha' and tool = 'whoami'`;
    }
  }, 60_000);

  it('an integration disabled in the policy loses its hooks: its sessions write no new rows', async () => {
    const file = hooks.policy;
    fs.writeFileSync(
      file,
      fs.readFileSync(file, 'utf8').replace('  beta: { enabled: true', '  beta: { enabled: false'),
    );
    await gw().registry.reload('beta');
    expect(gw().registry.get('beta')?.state).toBe('refused');
    await expect
      .poll(async () => gw().sql`select 1 from event_hooks where integration = 'beta'`)
      .toHaveLength(0);
    // A task in beta's session (beta's webhook is gone with it: created directly).
    const [session] = await gw().sql<{ id: string }[]>`
      insert into sessions (key) values ('beta:after-disable') returning id::text`;
    const [task] = await gw().sql<{ id: string }[]>`
      insert into tasks (session_id, status, prompt, scope) values (${session!.id}, 'running', 'x', '{}')
      returning id::text`;
    await insertTaskEvents(gw().sql, [{ taskId: task!.id, type: 'task:started' }]);
    expect(await hookRows(task!.id, 'beta')).toEqual([]);
  });
});
