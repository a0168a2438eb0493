/**
 * Unbounded growth (issue 12, L4): anyone who can post webhooks, or an agent that writes
 * progress events, adds rows for ever. The retention job keeps webhook_deliveries, task_events
 * and audit_log to the policy's window: rows past it are deleted at start and every interval,
 * each statement taking at most 1000 rows (no long lock), and two replicas at once share it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteOldAudit } from '../../gateway/src/audit/store.ts';
import type { Sql } from '../../gateway/src/db/connect.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { RETENTION_BATCH, runRetention } from '../../gateway/src/retention/job.ts';
import { testDatabase, useMigratedDatabase } from '../helpers/database.ts';
import { startTestGateway } from '../helpers/gateway.ts';

const DAY = 86_400_000;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-retention-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A flood that happened long ago: `n` rows of each kind, `days` old, plus tasks to own events. */
async function flood(sql: Sql, n: number, days: number, tag: string): Promise<void> {
  await sql`
    insert into audit_log (at, actor, action)
    select now() - ${days} * interval '1 day' - g * interval '1 second', 'key:flood', ${tag}
      from generate_series(1, ${n}) g`;
  await sql`
    insert into webhook_deliveries
      (integration, endpoint, delivery_id, headers, body, status, received_at, processed_at)
    select 'flood', 'events', ${tag} || '-' || g, '{}', '\\x00'::bytea,
           (array['done', 'ignored', 'failed'])[1 + g % 3],
           now() - ${days} * interval '1 day', now() - ${days} * interval '1 day'
      from generate_series(1, ${n}) g`;
  // n events over 25 tasks that ended `days` ago.
  await sql`
    with ended as (
      insert into tasks (status, prompt, finished_at)
      select 'complete', ${tag}, now() - ${days} * interval '1 day' from generate_series(1, 25)
      returning id)
    insert into task_events (task_id, type, data, created_at)
    select e.id, 'task:progress', '{}', now() - ${days} * interval '1 day'
      from (select id, row_number() over (order by id) as k from ended) e
      join generate_series(1, ${n}) g on g % 25 = e.k - 1`;
}

const counts = async (sql: Sql, tag: string) => {
  const [row] = await sql<{ audit: number; deliveries: number; events: number }[]>`
    select (select count(*)::int from audit_log where action = ${tag}) as audit,
           (select count(*)::int from webhook_deliveries where delivery_id like ${`${tag}-%`})
             as deliveries,
           (select count(*)::int from task_events e join tasks t on t.id = e.task_id
             where t.prompt = ${tag}) as events`;
  return row!;
};

describe('retention keeps stored history bounded', () => {
  it('a gateway deletes the rows past the policy window when it starts and keeps the rest', async () => {
    const db = await testDatabase();
    const keep = path.join(tmp, 'keep.yaml');
    fs.writeFileSync(
      keep,
      'apiVersion: switchboard/policy/v1\nretention: { deliveries: "off", taskEvents: "off", audit: "off" }\n',
    );
    const window = path.join(tmp, 'window.yaml');
    fs.writeFileSync(
      window,
      'apiVersion: switchboard/policy/v1\nretention: { deliveries: 30d, taskEvents: 30d, audit: 90d, interval: 1h }\n',
    );
    try {
      // Seeded under a policy that keeps everything: its own start-up run must not race the flood.
      const first = await startTestGateway({ ...db.env, SWITCHBOARD_POLICY: keep });
      await flood(first.sql, 2_500, 100, 'old');
      await flood(first.sql, 30, 10, 'recent');
      expect(await counts(first.sql, 'old')).toEqual({
        audit: 2_500,
        deliveries: 2_500,
        events: 2_500,
      });
      await first.stop();

      const second = await startTestGateway({ ...db.env, SWITCHBOARD_POLICY: window });
      try {
        await expect
          .poll(() => counts(second.sql, 'old'), { timeout: 30_000, interval: 100 })
          .toEqual({ audit: 0, deliveries: 0, events: 0 });
        expect(await counts(second.sql, 'recent')).toEqual({
          audit: 30,
          deliveries: 30,
          events: 30,
        });
        await expect
          .poll(() => second.logs.lines.find((l) => l.msg === 'retention: old rows deleted'))
          .toMatchObject({ level: 'info', deliveries: 2_500, taskEvents: 2_500, audit: 2_500 });
      } finally {
        await second.stop();
      }
    } finally {
      await db.cleanup();
    }
  });

  describe('on a migrated database', () => {
    const db = useMigratedDatabase();

    it('one delete statement takes at most 1000 rows, however many are due', async () => {
      const { sql } = db();
      await sql`
        insert into audit_log (at, actor, action)
        select now() - interval '100 days', 'key:flood', 'batch' from generate_series(1, 2500)`;
      const batches: number[] = [];
      for (;;) {
        const deleted = await deleteOldAudit(sql, 90 * DAY, RETENTION_BATCH);
        batches.push(deleted);
        if (deleted < RETENTION_BATCH) break;
      }
      expect(batches).toEqual([1_000, 1_000, 500]);
      expect((await counts(sql, 'batch')).audit).toBe(0);
    });

    it('two replicas running it at once neither fail nor delete anything twice', async () => {
      const { sql } = db();
      await flood(sql, 2_600, 100, 'race');
      await flood(sql, 25, 1, 'fresh');
      const retention = {
        deliveriesMs: 30 * DAY,
        taskEventsMs: 30 * DAY,
        auditMs: 90 * DAY,
        egressMs: 30 * DAY,
        intervalMs: 3_600_000,
      };
      // A warning is how a run reports a failed delete: none may be logged.
      const warnings: unknown[] = [];
      const watching = createLogger('warn', {
        write: (line: string) => void warnings.push(JSON.parse(line)),
      });
      const [a, b] = await Promise.all([
        runRetention(sql, retention, { log: watching }),
        runRetention(sql, retention, { log: watching }),
      ]);
      expect(warnings).toEqual([]);
      expect({
        deliveries: a.deliveries + b.deliveries,
        taskEvents: a.taskEvents + b.taskEvents,
        audit: a.audit + b.audit,
      }).toEqual({ deliveries: 2_600, taskEvents: 2_600, audit: 2_600 });
      expect(await counts(sql, 'race')).toEqual({ audit: 0, deliveries: 0, events: 0 });
      expect(await counts(sql, 'fresh')).toEqual({ audit: 25, deliveries: 25, events: 25 });
    });
  });
});
