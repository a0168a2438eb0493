import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../gateway/src/db/connect.ts';
import { migrate } from '../../gateway/src/db/migrate.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { createOrGetSession } from '../../gateway/src/sessions/store.ts';
import { claimTasks, completeTask, enqueueTask } from '../../gateway/src/tasks/queue.ts';
import { type TestDatabase, testDatabase, usingPostgres } from '../helpers/database.ts';

// Issue 5: 200 tasks on a profile with concurrency 4, three claim loops racing, each completing
// its tasks after a short random delay. On Postgres every claimer is its own pool (as three
// gateway replicas would be), so claims and completions really overlap in the server. The
// embedded PGlite serves one connection, so there the loops share it and their transactions
// interleave one at a time: the invariants are the same, the race is weaker.
const PROFILE = 'reviewer';
const CONCURRENCY = 4;
const TASKS = 200;
const SESSIONS = 12;
const PER_SESSION = 10;
const CLAIMERS = 3;

const log = createLogger('silent');

describe('queue under concurrent claimers', () => {
  let test: TestDatabase | undefined;
  const dbs: Database[] = [];

  beforeAll(async () => {
    test = await testDatabase();
    const open = () =>
      openDatabase({
        databaseUrl: test!.env.DATABASE_URL,
        dataDir: test!.env.SWITCHBOARD_DATA_DIR,
        log,
        max: 4,
      });
    dbs.push(await open());
    await migrate(dbs[0]!.sql, log);
    if (usingPostgres) for (let i = 1; i < CLAIMERS; i++) dbs.push(await open());
  });
  afterAll(async () => {
    for (const db of dbs) await db.close();
    await test?.cleanup();
  });

  it(`runs ${TASKS} tasks at most ${CONCURRENCY} at a time, each once, sessions in order`, async () => {
    const sql = dbs[0]!.sql;
    // 120 tasks in 12 sessions, created round-robin so that sessions interleave, then 80 alone.
    const sessionIds: string[] = [];
    for (let s = 0; s < SESSIONS; s++) {
      const { session } = await createOrGetSession(sql, { key: `test:s${s}`, profile: PROFILE });
      sessionIds.push(session.id);
    }
    const order = new Map<string, string[]>(sessionIds.map((id) => [id, []]));
    const all: string[] = [];
    for (let i = 0; i < TASKS; i++) {
      const sessionId = i < SESSIONS * PER_SESSION ? sessionIds[i % SESSIONS] : undefined;
      const { task } = await enqueueTask(sql, {
        prompt: `task ${i}`,
        ...(sessionId ? { sessionId } : { profile: PROFILE }),
      });
      expect(task.profile).toBe(PROFILE);
      all.push(task.id);
      if (sessionId) order.get(sessionId)!.push(task.id);
    }

    const claims = new Map<string, number>();
    const done = new Set<string>();
    let lost = 0;
    let maxRunning = 0;
    const sessionOverlaps: string[] = [];
    // A safety net against a hung queue, not a timing assertion.
    const deadline = Date.now() + 50_000;

    async function claimLoop(db: Database, owner: string): Promise<void> {
      const working = new Set<Promise<void>>();
      while (done.size < TASKS) {
        if (Date.now() > deadline) throw new Error(`stuck with ${done.size}/${TASKS} done`);
        const tasks = await claimTasks(db.sql, {
          profile: PROFILE,
          owner,
          leaseMs: 120_000,
          concurrency: CONCURRENCY,
          limit: 2,
        });
        // What the database holds right after this claim committed.
        const [row] = await db.sql<{ n: number }[]>`
          select count(*)::int as n from tasks where profile = ${PROFILE} and status = 'running'`;
        maxRunning = Math.max(maxRunning, row!.n);
        const busy = await db.sql<{ sessionId: string }[]>`
          select session_id::text as "sessionId" from tasks
           where status = 'running' and session_id is not null
           group by session_id having count(*) > 1`;
        sessionOverlaps.push(...busy.map((b) => b.sessionId));
        for (const task of tasks) {
          claims.set(task.id, (claims.get(task.id) ?? 0) + 1);
          const work = (async () => {
            await sleep(Math.random() * 4);
            const ended = await completeTask(
              db.sql,
              { taskId: task.id, token: task.leaseToken },
              { result: owner },
            );
            if (ended.outcome === 'ok') done.add(task.id);
            else lost++;
          })();
          working.add(work);
          void work.finally(() => working.delete(work));
        }
        if (tasks.length === 0) await sleep(1 + Math.random() * 2);
      }
      await Promise.all(working);
    }

    await Promise.all(
      Array.from({ length: CLAIMERS }, (_, i) => claimLoop(dbs[i % dbs.length]!, `claimer-${i}`)),
    );

    expect(lost).toBe(0);
    expect(done.size).toBe(TASKS);
    expect(maxRunning).toBeLessThanOrEqual(CONCURRENCY);
    expect(sessionOverlaps).toEqual([]);
    expect([...claims.values()].every((n) => n === 1)).toBe(true);
    expect(claims.size).toBe(TASKS);

    const rows = await sql<{ status: string; attempts: number; n: number }[]>`
      select status, attempts, count(*)::int as n from tasks group by status, attempts`;
    expect(rows).toEqual([{ status: 'complete', attempts: 1, n: TASKS }]);

    // Replay the events in seq order. A claim's task:started is written after its count and a
    // completion's task:done before its commit, so this replay never shows more running than
    // the claim saw; a claim that overshot would show here.
    const events = await sql<{ taskId: string; type: string }[]>`
      select task_id::text as "taskId", type from task_events
       where type in ('task:started', 'task:done') order by seq`;
    const running = new Set<string>();
    const started = new Map<string, number>();
    const finished = new Map<string, number>();
    let replayMax = 0;
    const startOrder: string[] = [];
    for (const e of events) {
      if (e.type === 'task:started') {
        started.set(e.taskId, (started.get(e.taskId) ?? 0) + 1);
        running.add(e.taskId);
        startOrder.push(e.taskId);
        replayMax = Math.max(replayMax, running.size);
      } else {
        finished.set(e.taskId, (finished.get(e.taskId) ?? 0) + 1);
        running.delete(e.taskId);
      }
    }
    expect(replayMax).toBeLessThanOrEqual(CONCURRENCY);
    expect(replayMax).toBeGreaterThan(1);
    for (const id of all) {
      expect(started.get(id)).toBe(1);
      expect(finished.get(id)).toBe(1);
    }

    // Each session ran its tasks in creation order, one after the other: a task's start comes
    // after its predecessor's done.
    const position = new Map(events.map((e, i) => [`${e.type} ${e.taskId}`, i]));
    for (const ids of order.values()) {
      expect(startOrder.filter((id) => ids.includes(id))).toEqual(ids);
      for (let i = 1; i < ids.length; i++) {
        expect(position.get(`task:started ${ids[i]}`)!).toBeGreaterThan(
          position.get(`task:done ${ids[i - 1]}`)!,
        );
      }
    }
  });
});
