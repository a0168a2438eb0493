/**
 * Issue 20, the drain's set-based results: a batch of drained deliveries stores every row's
 * triggers with ONE statement (tasks/sql/create.ts insertSessionTasks) and then marks the rows
 * done under their leases. What a row ends as must not depend on its neighbours: each trigger's
 * message and task are matched to it by id (rows past the 10th of a batch, where a text sort
 * would put "10" before "2"), a session named by many rows of the batch gets their messages and
 * tasks in order, a lost lease leaves nothing of its batch's statement, and a hostile result (a
 * huge one, one that breaks the contract, one PostgreSQL cannot store) fails its row alone.
 * Real database, the gateway's real registry, policy and worker (the hooks fixture).
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Trigger } from '@switchboard/sdk';
import { describe, expect, it } from 'vitest';
import { insertDeliveries } from '../../gateway/src/deliveries/store.ts';
import { useTestGateway } from '../helpers/gateway.ts';
import { leasedDelivery, triggerBatcher, WEBHOOK_FIXTURES } from '../helpers/trigger-batches.ts';

const FIXTURES = WEBHOOK_FIXTURES;

const trigger = (key: string, message: string, run = true): Trigger => ({
  session: { key, dispatch: { type: 'none', config: {} } },
  message,
  run,
});

describe('drained deliveries stored set-based (issue 20)', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: FIXTURES,
    SWITCHBOARD_POLICY: path.join(FIXTURES, 'policy.yaml'),
  });

  const leased = () => leasedDelivery(gw());
  const batcher = () => triggerBatcher(gw());

  const delivery = (id: string) =>
    gw().sql<{ status: string; error: string | null; result: Record<string, string[]> | null }[]>`
      select status, error, result from webhook_deliveries where id = ${id}`.then((r) => r[0]!);

  /** Every message and task a delivery's triggers made, in id / seq order. */
  const madeBy = async (id: string) => ({
    messages: await gw().sql<{ id: string; content: string; key: string }[]>`
      select m.id::text, m.content, s.key from messages m join sessions s on s.id = m.session_id
       where m.source->>'delivery' = ${id} order by m.id`,
    tasks: await gw().sql<
      { id: string; seq: string; prompt: string; content: string; event: Record<string, unknown> }[]
    >`
      select t.id::text, t.seq::text, t.prompt, m.content, e.data as event
        from tasks t join messages m on m.id = t.message_id
        join task_events e on e.task_id = t.id and e.type = 'task:created'
       where t.delivery_id = ${id} order by t.seq`,
  });

  it('45 deliveries drained by the worker (two claims): each row its own messages and tasks, the failures alone', async () => {
    const run = randomUUID().slice(0, 8);
    const shared = `hooks:drain-shared-${run}`;
    // n % 9: 4 breaks the handler contract, 7 names a profile the policy lacks (both fail at
    // once, not retryable), 2 has no trigger (ignored); the rest write twice into the session
    // they all share (two tasks) and once into their own (no task).
    const kind = (n: number) =>
      n % 9 === 4 ? 'invalid' : n % 9 === 7 ? 'refused' : n % 9 === 2 ? 'empty' : 'good';
    const bodies = Array.from({ length: 45 }, (_, n) => {
      if (kind(n) === 'invalid') return { invalid: true };
      if (kind(n) === 'refused')
        return { triggers: [{ ...trigger(shared, `d${n} x`), execution: { profile: 'nope' } }] };
      if (kind(n) === 'empty') return { triggers: [] };
      return {
        triggers: [
          trigger(shared, `d${n} a`),
          trigger(shared, `d${n} b`),
          trigger(`hooks:drain-${run}-${n}`, `d${n} own`, false),
        ],
      };
    });
    const ids = await insertDeliveries(
      gw().sql,
      bodies.map((body, n) => ({
        integration: 'hooks',
        endpoint: 'github',
        deliveryId: `drain-${run}-${n}`,
        headers: {},
        body: Buffer.from(JSON.stringify(body)),
      })),
    );
    const rowIds = bodies.map((_, n) => ids.get(`hooks\ndrain-${run}-${n}`)!);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const [left] = await gw().sql<{ n: number }[]>`
        select count(*)::int as n from webhook_deliveries
         where id = any(${rowIds}::uuid[]) and status in ('pending', 'processing')`;
      if (left!.n === 0) break;
      if (Date.now() > deadline) throw new Error(`${left!.n} deliveries still not settled`);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const [n, id] of rowIds.entries()) {
      const row = await delivery(id);
      const made = await madeBy(id);
      const what = `delivery ${n} (${kind(n)})`;
      if (kind(n) === 'invalid' || kind(n) === 'refused') {
        expect(row.status, what).toBe('failed');
        expect(row.error, what).toContain(
          kind(n) === 'invalid' ? 'invalid handler result' : 'no profile "nope"',
        );
        expect(made, what).toEqual({ messages: [], tasks: [] });
        continue;
      }
      if (kind(n) === 'empty') {
        expect(row.status, what).toBe('ignored');
        continue;
      }
      expect(row.status, what).toBe('done');
      expect(
        made.messages.map((m) => [m.content, m.key]),
        what,
      ).toEqual([
        [`d${n} a`, shared],
        [`d${n} b`, shared],
        [`d${n} own`, `hooks:drain-${run}-${n}`],
      ]);
      // Each task was made with its own trigger's message; the first trigger's first (seq).
      expect(
        made.tasks.map((t) => [t.prompt, t.content]),
        what,
      ).toEqual([
        [`d${n} a`, `d${n} a`],
        [`d${n} b`, `d${n} b`],
      ]);
      for (const t of made.tasks) {
        expect(t.event, what).toMatchObject({ delivery: id, integration: 'hooks', seq: t.seq });
      }
      // The stored result names exactly these rows, in trigger order.
      expect(row.result, what).toMatchObject({
        messages: made.messages.map((m) => m.id),
        tasks: made.tasks.map((t) => t.id),
      });
    }
    // The worker did share its transactions (else this test says nothing of the batch path).
    const batches = gw()
      .logs.lines.filter((l) => l.msg === 'delivery processed')
      .map((l) => Number(l.batch));
    expect(Math.max(...batches)).toBeGreaterThan(1);
  });

  it('40 rows in one batcher: more than one batch, ids past 9 matched by id', async () => {
    const { b, published } = batcher();
    const rows = await Promise.all(Array.from({ length: 40 }, leased));
    const run = randomUUID().slice(0, 8);
    const stored = await Promise.all(
      rows.map((row, n) =>
        b.store({
          row,
          triggers:
            n % 4 === 3
              ? [trigger(`hooks:b-${run}-${n}`, `r${n} note`, false)]
              : [trigger(`hooks:b-${run}-${n % 3}`, `r${n}`)],
        }),
      ),
    );
    expect(Math.max(...stored.map((s) => s.batch))).toBeGreaterThan(1);
    expect(stored.reduce((sum, s) => sum + 1 / s.batch, 0)).toBeGreaterThan(1); // 2+ batches
    for (const [n, row] of rows.entries()) {
      const made = await madeBy(row.id);
      expect(stored[n]!.outcome?.messages).toEqual(made.messages.map((m) => m.id));
      expect(stored[n]!.outcome?.tasks).toEqual(made.tasks.map((t) => t.id));
      expect(made.messages.map((m) => m.content)).toEqual([n % 4 === 3 ? `r${n} note` : `r${n}`]);
      expect(made.tasks.map((t) => t.prompt)).toEqual(n % 4 === 3 ? [] : [`r${n}`]);
      expect((await delivery(row.id)).status).toBe('done');
    }
    expect(published).toHaveLength(30);
  });

  it('a batch whose lease was lost mid-way writes nothing of that batch statement; the other rows are stored alone', async () => {
    const { b } = batcher();
    const rows = await Promise.all(Array.from({ length: 12 }, leased));
    // Another worker took row 10 over (its lease expired and it was claimed again).
    await gw().sql`
      update webhook_deliveries set lease_token = ${randomUUID()} where id = ${rows[10]!.id}`;
    const run = randomUUID().slice(0, 8);
    const keys = rows.map((_, n) => `hooks:lost-${run}-${n}`);
    const stored = await Promise.all(
      rows.map((row, n) => b.store({ row, triggers: [trigger(keys[n]!, `l${n}`)] })),
    );
    expect(stored.map((s) => s.outcome === undefined)).toEqual(rows.map((_, n) => n === 10));
    // Nothing of row 10, not even its session: the batch's statement was rolled back.
    const [lost] = await gw().sql<{ n: number }[]>`
      select count(*)::int as n from sessions where key = ${keys[10]!}`;
    expect(lost!.n).toBe(0);
    expect(await madeBy(rows[10]!.id)).toEqual({ messages: [], tasks: [] });
    expect((await delivery(rows[10]!.id)).status).toBe('processing');
    for (const n of rows.keys()) {
      if (n === 10) continue;
      expect((await madeBy(rows[n]!.id)).tasks.map((t) => t.prompt)).toEqual([`l${n}`]);
      expect((await delivery(rows[n]!.id)).status).toBe('done');
    }
  });

  it('hostile results (huge, a NUL, 300 triggers, a foreign session) fail or pass alone; the batch keeps the rest', async () => {
    const { b } = batcher();
    const rows = await Promise.all(Array.from({ length: 8 }, leased));
    const run = randomUUID().slice(0, 8);
    const key = (n: number) => `hooks:h-${run}-${n}`;
    const huge = 'x'.repeat(2_000_000);
    const triggers: Trigger[][] = rows.map((_, n) => [trigger(key(n), `h${n}`)]);
    triggers[1] = [trigger(key(1), huge)];
    triggers[3] = [trigger(key(3), 'before\u0000after')];
    triggers[4] = Array.from({ length: 300 }, (_, i) => trigger(key(4), `many ${i}`, i % 2 === 0));
    triggers[6] = [trigger(key(6), 'ok'), trigger('chat:general', 'not its own')];
    triggers[7] = [{ ...trigger(key(7), 'k'), session: { key: `${key(7)}\u0000` } }];
    const stored = await Promise.allSettled(
      rows.map((row, n) => b.store({ row, triggers: triggers[n]! })),
    );
    expect(stored.map((s) => s.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
      'rejected',
      'rejected',
    ]);
    const errors = stored.flatMap((s) => (s.status === 'rejected' ? [String(s.reason)] : []));
    expect(errors[0]).toContain('NUL');
    expect(errors[1]).toContain('must start with "hooks:"');
    expect(errors[2]).toContain('NUL');
    // The good rows still went together.
    const batches = stored.flatMap((s) => (s.status === 'fulfilled' ? [s.value.batch] : []));
    expect(Math.max(...batches)).toBeGreaterThan(1);
    const huge1 = await gw().sql<{ n: number }[]>`
      select length(m.content) as n from messages m where m.source->>'delivery' = ${rows[1]!.id}`;
    expect(huge1.map((r) => r.n)).toEqual([huge.length]);
    const many = await madeBy(rows[4]!.id);
    expect(many.messages.map((m) => m.content)).toEqual(
      Array.from({ length: 300 }, (_, i) => `many ${i}`),
    );
    expect(many.tasks.map((t) => t.prompt)).toEqual(
      Array.from({ length: 150 }, (_, i) => `many ${2 * i}`),
    );
    for (const n of [0, 2, 5]) {
      expect((await madeBy(rows[n]!.id)).tasks.map((t) => t.prompt)).toEqual([`h${n}`]);
    }
    for (const n of [3, 6, 7]) {
      expect(await madeBy(rows[n]!.id)).toEqual({ messages: [], tasks: [] });
      expect((await delivery(rows[n]!.id)).status).toBe('processing');
    }
  });
});
