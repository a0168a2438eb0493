/**
 * Lists past id 9 (issue 12, item 1). Queries selected `seq::text` / `id::text` under the
 * column's own name and then said `order by seq`: PostgreSQL resolves a bare ORDER BY name to
 * the output column first, so it sorted the text (1, 10, 11, 2, …). Every list here has 25+
 * rows whose ids cross 9, and is read the way its users read it: pages, resumes, the CLI.
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { InProcessBus } from '../../gateway/src/db/bus.ts';
import { insertDeliveries } from '../../gateway/src/deliveries/store.ts';
import { listTaskEvents } from '../../gateway/src/events/store.ts';
import { followTaskEvents, TaskEventWaker } from '../../gateway/src/events/task-events.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { findMessageOfOutboxRow } from '../../gateway/src/outbox/store.ts';
import {
  createOrGetSession,
  insertMessage,
  lastMessageId,
  newestMessages,
} from '../../gateway/src/sessions/store.ts';
import { claimTasks } from '../../gateway/src/tasks/queue.ts';
import { ADMIN_KEY, REPO_ROOT, runSwitchboard, useTestGateway } from '../helpers/gateway.ts';
import { collect, openSse, type SseEvent } from '../helpers/sse.ts';

const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/integrations');
// Its profiles' runners never start, so the task stays as the test leaves it (see the file).
const POLICY = path.join(REPO_ROOT, 'test/fixtures/tasks-api/policy.yaml');
const MESSAGES = 30;

// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; the API validates them
type Json = Record<string, any>;

/** Strictly increasing as numbers (an empty or one-element list is refused: it proves nothing). */
function expectIncreasing(ids: readonly string[]): void {
  expect(ids.length).toBeGreaterThan(1);
  const numbers = ids.map((id) => BigInt(id));
  expect(numbers).toEqual([...numbers].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  expect(new Set(ids).size).toBe(ids.length);
}

describe('lists past id 9 come back in numeric order (issue 12)', () => {
  const gw = useTestGateway({ INTEGRATION_DIRS: FIXTURES, SWITCHBOARD_POLICY: POLICY });
  const auth = { authorization: `Bearer ${ADMIN_KEY}` };
  const api = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${gw().url}/api/v1${route}`, {
      method,
      headers: { ...auth, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Json };
  };

  // One running task in a session, and 30 messages posted to it with notify: 30 messages,
  // 32 task events (created, started, 30 × task:message) and 30+ audit rows, ids from 1.
  let taskId = '';
  let sessionId = '';
  const messageIds: string[] = [];
  beforeAll(async () => {
    const created = await api('POST', '/tasks', {
      prompt: 'p',
      profile: 'scripted',
      session: 'order:events',
    });
    expect(created.status).toBe(201);
    taskId = created.json.task.id;
    sessionId = created.json.task.sessionId;
    const [claimed] = await claimTasks(gw().sql, {
      profile: 'scripted',
      owner: 'list-order-test',
      leaseMs: 600_000,
      concurrency: 1,
    });
    expect(claimed?.id).toBe(taskId);
    for (let i = 1; i <= MESSAGES; i++) {
      const posted = await api('POST', `/sessions/${sessionId}/messages`, {
        content: `m${i}`,
        notify: true,
      });
      expect(posted.status).toBe(201);
      messageIds.push(posted.json.message.id);
    }
    expectIncreasing(messageIds);
    expect(BigInt(messageIds.at(-1)!)).toBeGreaterThan(9n);
  });

  const eventTypes = () => [
    'task:created',
    'task:started',
    ...Array.from({ length: MESSAGES }, () => 'task:message'),
  ];
  const parsed = (events: readonly SseEvent[]) =>
    events.map((e) => ({ id: e.id!, type: e.event!, data: JSON.parse(e.data) as Json }));

  it('session messages: every page in id order, each message once', async () => {
    const seen: Json[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 20; pages++) {
      const { status, json } = await api(
        'GET',
        `/sessions/${sessionId}/messages?limit=7${after ? `&after=${after}` : ''}`,
      );
      expect(status).toBe(200);
      seen.push(...json.messages);
      after = json.next;
      if (after === null) break;
    }
    expect(after).toBeNull();
    expect(seen.map((m) => m.content)).toEqual(
      Array.from({ length: MESSAGES }, (_, i) => `m${i + 1}`),
    );
    expect(seen.map((m) => m.id)).toEqual(messageIds);
  });

  it("the worker's message reads: the newest 20, oldest first; the newest id", async () => {
    const newest = await newestMessages(gw().sql, sessionId, 20);
    expect(newest.map((m) => m.id)).toEqual(messageIds.slice(-20));
    expect(newest.map((m) => m.content)).toEqual(
      Array.from({ length: 20 }, (_, i) => `m${MESSAGES - 19 + i}`),
    );
    expect(await lastMessageId(gw().sql, sessionId)).toBe(messageIds.at(-1));
  });

  it('an internal dispatch finds the first message it posted, not the textually first', async () => {
    const { sql } = gw();
    const { session } = await createOrGetSession(sql, { key: 'order:dispatch' });
    const first = await insertMessage(sql, session.id, {
      role: 'agent',
      content: 'first post',
      source: { outboxId: '77' },
    });
    // Filler up to the next power of ten, so the second post's id has one digit more (e.g.
    // 31 → 100): as text, '100' < '31'.
    const digits = first!.id.length;
    await sql`
      insert into messages (session_id, role, content)
      select ${session.id}, 'system', 'filler'
        from generate_series(${first!.id}::bigint + 1, ${10 ** digits - 1})`;
    const second = await insertMessage(sql, session.id, {
      role: 'agent',
      content: 'a second post of the same row',
      source: { outboxId: '77' },
    });
    expect(second!.id.length).toBe(digits + 1);
    expect(await findMessageOfOutboxRow(sql, session.id, '77')).toBe(first!.id);
  });

  it('audit: pages newest first by id, each entry once, none skipped', async () => {
    const [{ n } = { n: 0 }] = await gw().sql<{ n: number }[]>`
      select count(*)::int as n from audit_log`;
    expect(n).toBeGreaterThanOrEqual(MESSAGES + 1);
    const ids: string[] = [];
    const actions: string[] = [];
    let before: string | null = null;
    for (let pages = 0; pages < 50; pages++) {
      const { status, json } = await api(
        'GET',
        `/audit?limit=7${before ? `&before=${before}` : ''}`,
      );
      expect(status).toBe(200);
      ids.push(...json.entries.map((e: Json) => e.id));
      actions.push(...json.entries.map((e: Json) => e.action));
      before = json.next;
      if (before === null) break;
    }
    expect(ids).toHaveLength(n);
    expectIncreasing([...ids].reverse());
    expect(actions.filter((a) => a === 'sessions.message')).toHaveLength(MESSAGES);
  });

  it('keys: listed in creation order', async () => {
    const names: string[] = [];
    for (let i = 1; i <= 25; i++) {
      const made = await api('POST', '/keys', { name: `order-${i}`, scopes: ['tasks:read'] });
      expect(made.status).toBe(201);
      names.push(`order-${i}`);
    }
    const { status, json } = await api('GET', '/keys');
    expect(status).toBe(200);
    const keys = json.keys as Json[];
    expectIncreasing(keys.map((k) => k.id));
    expect(keys.map((k) => k.name).filter((name) => name.startsWith('order-'))).toEqual(names);
  });

  // uuid ids: their text order is the uuid order, so these two passed before the fix too; they
  // hold the tie-break on (time, id) that the same rule now writes as d.id / s.id.
  it('deliveries stored by one statement (one received_at) page by cursor, each once', async () => {
    const stored = await insertDeliveries(
      gw().sql,
      Array.from({ length: 30 }, (_, i) => ({
        integration: 'order-test',
        endpoint: 'events',
        deliveryId: `d-${i}`,
        headers: {},
        body: Buffer.from('{}'),
      })),
    );
    expect(stored.size).toBe(30);
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 20; pages++) {
      const { status, json } = await api(
        'GET',
        `/deliveries?integration=order-test&limit=7${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(status).toBe(200);
      seen.push(...json.deliveries.map((d: Json) => d.id));
      cursor = json.next;
      if (cursor === null) break;
    }
    expect(seen).toHaveLength(30);
    expect(new Set(seen)).toEqual(new Set(stored.values()));
  });

  it('sessions page newest first by cursor, each once', async () => {
    const keys = Array.from({ length: 26 }, (_, i) => `order:session:${i}`);
    for (const key of keys) expect((await api('POST', '/sessions', { key })).status).toBe(201);
    const seen: Json[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 20; pages++) {
      const { status, json } = await api(
        'GET',
        `/sessions?limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      expect(status).toBe(200);
      seen.push(...json.sessions);
      cursor = json.next;
      if (cursor === null) break;
    }
    const listed = seen.map((s) => s.key).filter((k: string) => k.startsWith('order:session:'));
    expect(new Set(seen.map((s) => s.id)).size).toBe(seen.length);
    expect([...listed].sort()).toEqual([...keys].sort());
    const times = seen.map((s) => Date.parse(s.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it('task events: a page of `limit` rows at a time misses nothing, also when followed', async () => {
    const { sql } = gw();
    const paged: string[] = [];
    let afterSeq: string | undefined;
    for (let pages = 0; pages < 20; pages++) {
      const page = await listTaskEvents(sql, taskId, { afterSeq, limit: 5 });
      paged.push(...page.map((e) => e.type));
      if (page.length < 5) break;
      afterSeq = page.at(-1)!.seq;
    }
    expect(paged).toEqual(eventTypes());

    const waker = await TaskEventWaker.start(new InProcessBus(), createLogger('silent'));
    const stop = new AbortController();
    const followed: string[] = [];
    try {
      for await (const e of followTaskEvents(sql, waker, taskId, {
        signal: stop.signal,
        batch: 4,
      })) {
        followed.push(e.seq);
        if (followed.length === eventTypes().length) stop.abort();
      }
    } finally {
      await waker.close();
    }
    expectIncreasing(followed);
    expect(followed).toHaveLength(eventTypes().length);
  });

  it('task events over SSE: in order, resumed with Last-Event-ID past 9, each once', async () => {
    const url = `${gw().url}/api/v1/tasks/${taskId}/events`;
    const first = await openSse(url, auth);
    expect(first.status).toBe(200);
    const got: SseEvent[] = [];
    for (let i = 0; i < 12; i++) {
      const next = await first.events.next();
      if (next.done) throw new Error('the stream ended early');
      got.push(next.value);
    }
    await first.events.return(undefined); // disconnect after seq 12
    expect(BigInt(got.at(-1)!.id!)).toBeGreaterThan(9n);
    const resumed = await openSse(url, { ...auth, 'last-event-id': got.at(-1)!.id! });
    for (let i = 12; i < eventTypes().length; i++) {
      const next = await resumed.events.next();
      if (next.done) throw new Error('the resumed stream ended early');
      got.push(next.value);
    }
    expect((await api('POST', `/tasks/${taskId}/cancel`, {})).status).toBe(200);
    got.push(...(await collect(resumed.events)));
    const events = parsed(got);
    expect(events.map((e) => e.type)).toEqual([...eventTypes(), 'task:cancelled']);
    expectIncreasing(events.map((e) => e.id));
    expect(
      events.filter((e) => e.type === 'task:message').map((e) => e.data.data.messageId),
    ).toEqual(messageIds);

    // The ended task: from the start, and resumed after seq 10 (Last-Event-ID and ?after=).
    const all = parsed(await collect((await openSse(url, auth)).events));
    expect(all.map((e) => e.id)).toEqual(events.map((e) => e.id));
    const fromTen = parsed(
      await collect((await openSse(url, { ...auth, 'last-event-id': '10' })).events),
    );
    expect(fromTen.map((e) => e.id)).toEqual(
      events.filter((e) => BigInt(e.id) > 10n).map((e) => e.id),
    );
    const afterTen = parsed(await collect((await openSse(`${url}?after=10`, auth)).events));
    expect(afterTen.map((e) => e.id)).toEqual(fromTen.map((e) => e.id));
  });

  it('switchboard task watch prints every event once, in order, then exits 1 (cancelled)', async () => {
    // Ends the task if the SSE test did not (each test stands alone); 409 when it did.
    await api('POST', `/tasks/${taskId}/cancel`, {});
    const watched = await runSwitchboard(['task', 'watch', taskId], {
      SWITCHBOARD_URL: gw().url,
      SWITCHBOARD_API_KEY: ADMIN_KEY,
    });
    expect(watched.code, watched.stderr).toBe(1);
    const lines = watched.stdout.trim().split('\n');
    expect(lines).toHaveLength(eventTypes().length + 1);
    expect(lines[0]).toMatch(/ created \(profile scripted\)$/);
    expect(lines[1]).toMatch(/ running \(attempt 1 on list-order-test\)$/);
    const posted = lines
      .slice(2, -1)
      .map((l) => / task:message \{.*"messageId":"(\d+)"/.exec(l)?.[1] ?? `unparsed: ${l}`);
    expect(posted).toEqual(messageIds);
    expect(lines.at(-1)).toMatch(/ cancelled by key:/);
  }, 120_000);
});
