import { describe, expect, it } from 'vitest';
import { InProcessBus, PostgresBus } from '../../gateway/src/db/bus.ts';
import type { TaskEvent } from '../../gateway/src/events/store.ts';
import {
  followTaskEvents,
  TaskEventWaker,
  taskEventPublisher,
} from '../../gateway/src/events/task-events.ts';
import { createLogger } from '../../gateway/src/log.ts';
import {
  createOrGetSession,
  findSession,
  insertMessage,
  listMessages,
  listSessions,
} from '../../gateway/src/sessions/store.ts';
import { claimTasks, completeTask, enqueueTask } from '../../gateway/src/tasks/queue.ts';
import { useMigratedDatabase, usingPostgres } from '../helpers/database.ts';

const log = createLogger('silent');

describe('sessions and messages', () => {
  const db = useMigratedDatabase();

  it('create-or-get by key returns one row under a race, keeping its own defaults', async () => {
    const { sql } = db();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        createOrGetSession(sql, { key: 'github:acme/api', profile: `p${i}` }),
      ),
    );
    expect(new Set(results.map((r) => r.session.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const winner = results.find((r) => r.created)!.session;
    expect(results.every((r) => r.session.profile === winner.profile)).toBe(true);
    expect(await findSession(sql, winner.id)).toMatchObject({ key: 'github:acme/api' });
    await expect(createOrGetSession(sql, { key: '' })).rejects.toMatchObject({
      name: 'ZodError',
      issues: [
        expect.objectContaining({ path: ['key'], message: 'expected a non-empty session key' }),
      ],
    });
  });

  it('lists sessions newest first by cursor, ties in one transaction included', async () => {
    const { sql } = db();
    for (let i = 0; i < 4; i++) await createOrGetSession(sql, { key: `list:${i}` });
    // Same created_at (one transaction): the id breaks the tie.
    await sql.begin(async (tx) => {
      for (let i = 4; i < 7; i++) await createOrGetSession(tx, { key: `list:${i}` });
    });
    const seen: string[] = [];
    const times: number[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await listSessions(sql, { limit: 3, after });
      seen.push(...page.map((s) => s.key));
      times.push(...page.map((s) => s.createdAt.getTime()));
      if (page.length < 3) break;
      after = page.at(-1)!.cursor;
    }
    const listed = seen.filter((k) => k.startsWith('list:'));
    // Every session once, newest first. Sessions created apart may still share a timestamp
    // (PGlite's clock can tick coarser than one insert; this test once saw list:6 after
    // list:3), so within a tie only the id decides: the paging across ties is asserted, not
    // an order among equal timestamps.
    expect(new Set(seen).size).toBe(seen.length);
    expect([...listed].sort()).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `list:${i}`));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    await expect(listSessions(sql, { limit: 3, after: 'nonsense' })).rejects.toMatchObject({
      name: 'ZodError',
      issues: [expect.objectContaining({ message: 'expected a cursor from a previous page' })],
    });
  });

  it('posts messages and lists them in order after an id', async () => {
    const { sql } = db();
    const { session } = await createOrGetSession(sql, { key: 'chat' });
    const a = await insertMessage(sql, session.id, { role: 'user', content: 'hello' });
    const b = await insertMessage(sql, session.id, {
      role: 'integration',
      content: 'PR #42 opened',
      source: { integration: 'github', delivery: 'd-1' },
    });
    expect(a).toMatchObject({
      sessionId: session.id,
      role: 'user',
      content: 'hello',
      source: null,
    });
    expect((await listMessages(sql, session.id, { limit: 10 })).map((m) => m.id)).toEqual([
      a!.id,
      b!.id,
    ]);
    expect(await listMessages(sql, session.id, { limit: 10, afterId: a!.id })).toMatchObject([
      { content: 'PR #42 opened', source: { integration: 'github', delivery: 'd-1' } },
    ]);
    expect(
      await insertMessage(sql, '00000000-0000-4000-8000-000000000000', {
        role: 'user',
        content: 'x',
      }),
    ).toBeUndefined();
    await expect(
      insertMessage(sql, session.id, { role: 'robot' as 'user', content: 'x' }),
    ).rejects.toMatchObject({
      name: 'ZodError',
      issues: [expect.objectContaining({ path: ['role'], code: 'invalid_value' })],
    });
    expect(await listMessages(sql, session.id, { limit: 10 })).toHaveLength(2);
  });
});

describe('live task events', () => {
  const db = useMigratedDatabase();

  // Postgres: real LISTEN/NOTIFY on a second connection. PGlite: the in-process bus.
  it(`follows a task's events from a seq, then live (${usingPostgres ? 'NOTIFY' : 'in-process'})`, async () => {
    const { sql } = db();
    const bus = usingPostgres ? new PostgresBus(sql, log) : new InProcessBus();
    const waker = await TaskEventWaker.start(bus, log);
    const publish = taskEventPublisher(bus, log);
    try {
      const { task, events } = await enqueueTask(sql, { prompt: 'x', profile: 'live' }, publish);
      const stop = new AbortController();
      const seen: TaskEvent[] = [];
      let resolveDone: () => void = () => {};
      const done = new Promise<void>((resolve) => {
        resolveDone = resolve;
      });
      const following = (async () => {
        // pollMs far beyond the test: the events must arrive by the wake, not a poll.
        for await (const event of followTaskEvents(sql, waker, task.id, {
          signal: stop.signal,
          pollMs: 600_000,
        })) {
          seen.push(event);
          if (event.type === 'task:done') resolveDone();
        }
      })();
      const [lease] = await claimTasks(
        sql,
        { profile: 'live', owner: 'o', leaseMs: 60_000, concurrency: 1 },
        publish,
      );
      await completeTask(sql, { taskId: task.id, token: lease!.leaseToken }, {}, publish);
      await done;
      stop.abort();
      await following;
      expect(seen.map((e) => e.type)).toEqual(['task:created', 'task:started', 'task:done']);

      // Resume after the first event, as SSE with Last-Event-ID does: the rest, nothing twice.
      const resumed: string[] = [];
      const again = new AbortController();
      for await (const event of followTaskEvents(sql, waker, task.id, {
        afterSeq: events[0]!.seq,
        signal: again.signal,
      })) {
        resumed.push(event.type);
        if (resumed.length === 2) again.abort();
      }
      expect(resumed).toEqual(['task:started', 'task:done']);
    } finally {
      await waker.close();
    }
  });
});
