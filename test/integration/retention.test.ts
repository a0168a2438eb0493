/**
 * The retention job's deletes (issue 12, L4; gateway/src/retention/job.ts): what goes and what
 * stays, per kind, on a real database. Rows are written with old timestamps by SQL: the job
 * only reads ages, and waiting 30 days is not an option.
 */
import type { Retention } from '@switchboard/policy';
import { describe, expect, it } from 'vitest';
import type { Sql } from '../../gateway/src/db/connect.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { runRetention } from '../../gateway/src/retention/job.ts';
import { useMigratedDatabase } from '../helpers/database.ts';

const DAY = 86_400_000;
const log = createLogger('silent');
const OFF: Retention = {
  deliveriesMs: null,
  taskEventsMs: null,
  auditMs: null,
  egressMs: null,
  intervalMs: 60_000,
};

/** The `n` of a `select count(*)::int as n …`. */
const count = async (query: PromiseLike<readonly { n: number }[]>) => {
  const [row] = await query;
  return row?.n ?? -1;
};

/** `n` deliveries of one integration, status and age in days; returns their ids in order. */
async function deliveries(
  sql: Sql,
  integration: string,
  n: number,
  status: string,
  days: number,
): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    insert into webhook_deliveries
      (integration, endpoint, delivery_id, headers, body, status, received_at, processed_at)
    select ${integration}, 'events', ${integration} || '-' || g, '{}', ''::bytea, ${status},
           now() - ${days} * interval '1 day',
           case when ${status} in ('done', 'ignored', 'failed')
                then now() - ${days} * interval '1 day' end
      from generate_series(1, ${n}) g
    returning id::text`;
  return rows.map((r) => r.id);
}

/** A task in `status` that ended `endedDaysAgo` ago (null: not ended), with `events` events. */
async function taskWithEvents(
  sql: Sql,
  status: string,
  endedDaysAgo: number | null,
  events: number,
  eventDaysAgo: number,
): Promise<string> {
  const [task] = await sql<{ id: string }[]>`
    insert into tasks (status, prompt, finished_at)
    values (${status}, 'retention test',
            case when ${endedDaysAgo}::float8 is null then null
                 else now() - ${endedDaysAgo}::float8 * interval '1 day' end)
    returning id::text`;
  await sql`
    insert into task_events (task_id, type, data, created_at)
    select ${task!.id}, 'task:progress', jsonb_build_object('n', g),
           now() - ${eventDaysAgo} * interval '1 day'
      from generate_series(1, ${events}) g`;
  return task!.id;
}

describe('retention: what the job deletes and what it keeps', () => {
  const db = useMigratedDatabase();

  it('deliveries: settled ones past the window go; pending, processing, recent and replayed stay', async () => {
    const { sql } = db();
    const old = [
      ...(await deliveries(sql, 'old-done', 12, 'done', 40)),
      ...(await deliveries(sql, 'old-ignored', 10, 'ignored', 40)),
      ...(await deliveries(sql, 'old-failed', 10, 'failed', 40)),
    ];
    const kept = [
      ...(await deliveries(sql, 'old-pending', 10, 'pending', 40)),
      ...(await deliveries(sql, 'old-processing', 5, 'processing', 40)),
      ...(await deliveries(sql, 'recent', 25, 'done', 10)),
    ];
    // An old delivery replayed yesterday stays while its replay is stored (replay_of).
    const [replayed] = await deliveries(sql, 'replayed', 1, 'done', 40);
    const [replay] = await deliveries(sql, 'replay', 1, 'done', 1);
    await sql`update webhook_deliveries set replay_of = ${replayed!} where id = ${replay!}`;
    // A task and a schedule run that came from an old delivery outlive it.
    const [task] = await sql<{ id: string }[]>`
      insert into tasks (status, prompt, delivery_id, finished_at)
      values ('complete', 'from a webhook', ${old[0]!}, now()) returning id::text`;
    await sql`
      insert into schedule_runs (schedule, fire_time, claimed_by, delivery_id)
      values ('x/nightly', now() - interval '40 days', 'test', ${old[1]!})`;

    const counts = await runRetention(sql, { ...OFF, deliveriesMs: 30 * DAY }, { log });
    expect(counts).toEqual({
      deliveries: old.length,
      taskEvents: 0,
      audit: 0,
      kv: 0,
      handshakes: 0,
      replyWaits: 0,
      mcpTasks: 0,
      rateBuckets: 0,
      egress: 0,
    });
    const left = await sql<{ id: string }[]>`select id::text from webhook_deliveries`;
    expect(new Set(left.map((r) => r.id))).toEqual(new Set([...kept, replayed!, replay!]));
    expect(
      await count(
        sql<
          { n: number }[]
        >`select count(*)::int as n from tasks where id = ${task!.id} and delivery_id is null`,
      ),
    ).toBe(1);
    expect(
      await count(
        sql<
          { n: number }[]
        >`select count(*)::int as n from schedule_runs where delivery_id is null`,
      ),
    ).toBe(1);

    // Once the replay is past the window too, both go (the original on the run after).
    await sql`update webhook_deliveries set received_at = now() - interval '31 days' where id = ${replay!}`;
    await runRetention(sql, { ...OFF, deliveriesMs: 30 * DAY }, { log });
    await runRetention(sql, { ...OFF, deliveriesMs: 30 * DAY }, { log });
    const after = await sql<{ id: string }[]>`select id::text from webhook_deliveries`;
    expect(new Set(after.map((r) => r.id))).toEqual(new Set(kept));
  });

  it('task events: those of tasks ended past the window go; unfinished and recently ended tasks keep theirs', async () => {
    const { sql } = db();
    const ended: string[] = [];
    for (const status of ['complete', 'failed', 'cancelled']) {
      for (let i = 0; i < 9; i++) ended.push(await taskWithEvents(sql, status, 40, 3, 41));
    }
    const running = await taskWithEvents(sql, 'running', null, 30, 41);
    const pending = await taskWithEvents(sql, 'pending', null, 5, 41);
    const endedRecently = await taskWithEvents(sql, 'complete', 2, 25, 41);
    // An outbox row of an old task (its dispatch) is not an event: it stays, and so does the task.
    await sql`
      insert into outbox (kind, task_id, target, payload)
      values ('dispatch', ${ended[0]!}, '{}', '{}')`;

    const counts = await runRetention(sql, { ...OFF, taskEventsMs: 30 * DAY }, { log });
    expect(counts).toEqual({
      deliveries: 0,
      taskEvents: ended.length * 3,
      audit: 0,
      kv: 0,
      handshakes: 0,
      replyWaits: 0,
      mcpTasks: 0,
      rateBuckets: 0,
      egress: 0,
    });
    const left = await sql<{ taskId: string; n: number }[]>`
      select task_id::text as "taskId", count(*)::int as n from task_events group by task_id`;
    expect(Object.fromEntries(left.map((r) => [r.taskId, r.n]))).toEqual({
      [running]: 30,
      [pending]: 5,
      [endedRecently]: 25,
    });
    expect(
      await count(
        sql<{ n: number }[]>`select count(*)::int as n from tasks where prompt = 'retention test'`,
      ),
    ).toBe(ended.length + 3);
    expect(
      await count(
        sql<{ n: number }[]>`select count(*)::int as n from outbox where task_id = ${ended[0]!}`,
      ),
    ).toBe(1);
  });

  it('audit: entries past the window go, newer ones stay; off keeps everything', async () => {
    const { sql } = db();
    await sql`delete from audit_log`;
    await sql`
      insert into audit_log (at, actor, action)
      select now() - interval '100 days' - g * interval '1 minute', 'system', 'old'
        from generate_series(1, 30) g`;
    await sql`
      insert into audit_log (at, actor, action)
      select now() - interval '80 days' + g * interval '1 minute', 'system', 'recent'
        from generate_series(1, 25) g`;

    expect(await runRetention(sql, OFF, { log })).toEqual({
      deliveries: 0,
      taskEvents: 0,
      audit: 0,
      kv: 0,
      handshakes: 0,
      replyWaits: 0,
      mcpTasks: 0,
      rateBuckets: 0,
      egress: 0,
    });
    expect(await count(sql<{ n: number }[]>`select count(*)::int as n from audit_log`)).toBe(55);

    const counts = await runRetention(sql, { ...OFF, auditMs: 90 * DAY }, { log });
    expect(counts.audit).toBe(30);
    const left = await sql<{ action: string; n: number }[]>`
      select action, count(*)::int as n from audit_log group by action`;
    expect(left).toEqual([{ action: 'recent', n: 25 }]);
  });
});
