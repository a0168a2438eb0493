/**
 * Issue 6, the two group commits: deliveries that arrive together are inserted by one statement
 * (gateway/src/webhooks/ingest-batch.ts), and the delivery worker's handler results that are
 * ready together are stored in one transaction (store-triggers.ts). Batching never changes
 * what a request is answered or what a row ends as — a duplicate is still a duplicate, a bad
 * row fails alone, a row whose lease was lost is left to the worker that has it, and "acted on
 * once" still holds. Real database, the gateway's real registry and
 * policy (the hooks fixture); the rows are leased here so no worker of the gateway takes them.
 */
import { createHash, randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Trigger } from '@switchboard/sdk';
import { describe, expect, it } from 'vitest';
import { insertDelivery } from '../../gateway/src/deliveries/store.ts';
import { SwitchboardError } from '../../gateway/src/errors.ts';
import { DeliveryInserter } from '../../gateway/src/webhooks/ingest-batch.ts';
import { useTestGateway } from '../helpers/gateway.ts';
import { leasedDelivery, triggerBatcher, WEBHOOK_FIXTURES } from '../helpers/trigger-batches.ts';

const FIXTURES = WEBHOOK_FIXTURES;

const trigger = (key: string, extra: Partial<Trigger> = {}): Trigger => ({
  session: { key, dispatch: { type: 'none', config: {} } },
  message: `for ${key}`,
  run: true,
  ...extra,
});

describe('delivery results stored in batches (issue 6)', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: FIXTURES,
    SWITCHBOARD_POLICY: path.join(FIXTURES, 'policy.yaml'),
  });

  const leased = () => leasedDelivery(gw());
  const batcher = () => triggerBatcher(gw());

  const statusOf = async (id: string) =>
    (
      await gw().sql<{ status: string }[]>`select status from webhook_deliveries where id = ${id}`
    )[0]!.status;

  const madeFor = async (key: string) =>
    (
      await gw().sql<{ messages: number; tasks: number }[]>`
        select (select count(*)::int from messages m where m.session_id = s.id) as messages,
               (select count(*)::int from tasks t where t.session_id = s.id) as tasks
          from sessions s where s.key = ${key}`
    )[0] ?? { messages: 0, tasks: 0 };

  it('rows handed over together share one transaction and one publish', async () => {
    const { b, published } = batcher();
    const rows = await Promise.all(Array.from({ length: 6 }, leased));
    const keys = rows.map((r) => `hooks:batch-${r.id}`);
    const stored = await Promise.all(
      rows.map((row, n) => b.store({ row, triggers: n === 5 ? [] : [trigger(keys[n]!)] })),
    );
    expect(stored.map((s) => s.batch)).toEqual(rows.map(() => 6));
    expect(stored.map((s) => s.outcome?.tasks.length)).toEqual([1, 1, 1, 1, 1, 0]);
    expect(await Promise.all(rows.map((r) => statusOf(r.id)))).toEqual([
      'done',
      'done',
      'done',
      'done',
      'done',
      'ignored',
    ]);
    for (const key of keys.slice(0, 5))
      expect(await madeFor(key)).toEqual({ messages: 1, tasks: 1 });
    expect(published.map((e) => e.type)).toEqual(Array(5).fill('task:created'));
  });

  it('a row that fails fails alone; the others are stored together', async () => {
    const { b } = batcher();
    const rows = await Promise.all(Array.from({ length: 4 }, leased));
    const keys = rows.map((r) => `hooks:bad-${r.id}`);
    const triggers = [
      [trigger(keys[0]!)],
      [trigger(keys[1]!, { execution: { profile: 'nope' } })], // no such profile
      [trigger(keys[2]!), trigger('chat:general')], // the second is not its own session
      [trigger(keys[3]!)],
    ];
    const stored = await Promise.allSettled(
      rows.map((row, n) => b.store({ row, triggers: triggers[n]! })),
    );
    expect(stored.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    const errors = stored.flatMap((s) => (s.status === 'rejected' ? [s.reason] : []));
    for (const e of errors) expect(e).toBeInstanceOf(SwitchboardError);
    for (const e of errors) expect(e.code).toBe('handler_result_invalid');
    expect(String(errors[0])).toContain('no profile "nope"');
    expect(String(errors[1])).toContain('must start with "hooks:"');
    // The invalid rows are refused before they join a batch: the good ones still share one.
    expect(stored.flatMap((s) => (s.status === 'fulfilled' ? [s.value.batch] : []))).toEqual([
      2, 2,
    ]);
    expect(await madeFor(keys[0]!)).toEqual({ messages: 1, tasks: 1 });
    expect(await madeFor(keys[3]!)).toEqual({ messages: 1, tasks: 1 });
    // The failed rows left nothing, not even the valid first trigger of the third row; they
    // stay leased here, for the worker's failure handling to retry or fail.
    expect(await madeFor(keys[1]!)).toEqual({ messages: 0, tasks: 0 });
    expect(await madeFor(keys[2]!)).toEqual({ messages: 0, tasks: 0 });
    expect(await statusOf(rows[1]!.id)).toBe('processing');
  });

  it('a row whose lease was lost stores nothing; the rest of its batch is stored', async () => {
    const { b } = batcher();
    const rows = await Promise.all(Array.from({ length: 3 }, leased));
    // Another worker took row 1 over (its lease expired and was claimed again).
    await gw().sql`
      update webhook_deliveries set lease_token = ${randomUUID()} where id = ${rows[1]!.id}`;
    const keys = rows.map((r) => `hooks:lost-${r.id}`);
    const stored = await Promise.all(
      rows.map((row, n) => b.store({ row, triggers: [trigger(keys[n]!)] })),
    );
    expect(stored.map((s) => s.outcome === undefined)).toEqual([false, true, false]);
    expect(await madeFor(keys[1]!)).toEqual({ messages: 0, tasks: 0 });
    expect(await statusOf(rows[1]!.id)).toBe('processing');
    for (const n of [0, 2]) {
      expect(await madeFor(keys[n]!)).toEqual({ messages: 1, tasks: 1 });
      expect(await statusOf(rows[n]!.id)).toBe('done');
    }
  });

  it('storing the same row again creates no second task (the trigger idempotency keys)', async () => {
    const { b } = batcher();
    const row = await leased();
    const key = `hooks:again-${row.id}`;
    await b.store({ row, triggers: [trigger(key)] });
    // As after a crash between commit and answer: the row is leased again and re-processed.
    const token = randomUUID();
    await gw().sql`
      update webhook_deliveries set status = 'processing', lease_token = ${token}
       where id = ${row.id}`;
    const again = await b.store({ row: { ...row, leaseToken: token }, triggers: [trigger(key)] });
    expect(again.outcome?.tasks).toEqual([]);
    const [n] = await gw().sql<{ n: number }[]>`
      select count(*)::int as n from tasks where delivery_id = ${row.id}`;
    expect(n!.n).toBe(1);
  });

  describe('ingest', () => {
    const delivery = (deliveryId: string, headers: Record<string, string> = {}) => ({
      integration: 'hooks',
      endpoint: 'github',
      deliveryId,
      headers,
      body: Buffer.from(`{"id":"${deliveryId}"}`),
    });
    const stored = (ids: string[]) =>
      gw().sql<{ deliveryId: string; body: Buffer; headers: Record<string, string> }[]>`
        select delivery_id as "deliveryId", body, headers from webhook_deliveries
         where delivery_id = any(${ids}) order by delivery_id`;

    it('inserts arriving together: new ones stored once each, repeats answered as duplicates', async () => {
      const inserter = new DeliveryInserter(gw().sql);
      const before = randomUUID();
      await insertDelivery(gw().sql, delivery(before));
      const fresh = Array.from({ length: 12 }, (_, n) => `ingest-${n}-${randomUUID()}`);
      // 4 go out at once; the other 11 queue and share statements: the repeat of fresh[5]
      // inside a batch, and the id stored before, are duplicates like one after the other.
      const asked = [...fresh, fresh[5]!, before, fresh[0]!];
      const ids = await Promise.all(
        asked.map((id) => inserter.insert(delivery(id, { 'x-n': id }))),
      );
      expect(ids.slice(0, 12).every((id) => typeof id === 'string')).toBe(true);
      expect(new Set(ids.slice(0, 12)).size).toBe(12);
      expect(ids.slice(12)).toEqual([undefined, undefined, undefined]);
      const rows = await stored(fresh);
      expect(rows.map((r) => r.deliveryId)).toEqual([...fresh].sort());
      for (const r of rows) {
        expect(r.body.toString()).toBe(`{"id":"${r.deliveryId}"}`);
        expect(r.headers).toEqual({ 'x-n': r.deliveryId });
      }
    });

    it('a github body hash already stored, or twice in one batch, is a duplicate whatever its delivery id', async () => {
      const inserter = new DeliveryInserter(gw().sql);
      const bodies = Array.from({ length: 12 }, (_, n) => `{"body":${n},"r":"${randomUUID()}"}`);
      // Each body 3 times under 3 delivery ids, all at once: some share a statement, some not.
      const asked = [0, 1, 2].flatMap((round) =>
        bodies.map((body, n) => ({
          ...delivery(`hash-${round}-${n}-${randomUUID()}`),
          body: Buffer.from(body),
          bodySha256: createHash('sha256').update(body).digest(),
        })),
      );
      const ids = await Promise.all(asked.map((d) => inserter.insert(d)));
      for (const [n] of bodies.entries()) {
        const won = [0, 1, 2].map((round) => ids[round * bodies.length + n]);
        expect(won.filter((id) => id !== undefined)).toHaveLength(1);
      }
      const rows = await gw().sql<{ body: Buffer }[]>`
        select body from webhook_deliveries where delivery_id like 'hash-%' order by body`;
      expect(rows.map((r) => r.body.toString())).toEqual([...bodies].sort());
    });

    it('a row the database refuses fails its own request only', async () => {
      const inserter = new DeliveryInserter(gw().sql);
      const ids = Array.from({ length: 10 }, (_, n) => `refused-${n}-${randomUUID()}`);
      // jsonb has no NUL character: this row fails the statement it is in.
      const answers = await Promise.allSettled(
        ids.map((id, n) => inserter.insert(delivery(id, n === 6 ? { bad: 'a\u0000b' } : {}))),
      );
      expect(answers.map((a) => a.status)).toEqual(
        ids.map((_, n) => (n === 6 ? 'rejected' : 'fulfilled')),
      );
      expect((await stored(ids)).map((r) => r.deliveryId)).toEqual(
        ids.filter((_, n) => n !== 6).sort(),
      );
    });
  });
});
