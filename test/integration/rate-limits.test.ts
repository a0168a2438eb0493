/**
 * The per-task rate limit counted in the database (issue 19; gateway/src/db/rate-buckets.ts,
 * migrations/0019_rate_buckets.sql): two replicas' limiters on one database give a task the
 * limit once, where two processes' own buckets gave it twice; takes at once never overshoot;
 * a database that fails or does not answer in time leaves the call to the process's bucket
 * (fail open, counted); the retention job's sweep deletes refilled buckets only. Runs on both
 * databases: on PGlite the two limiters share its one connection (the gateway itself uses the
 * in-memory buckets there: one process), on PostgreSQL a pool each, as two replicas would.
 * Whole gateway processes behind a load balancer: rate-limit-replicas.test.ts.
 */
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import {
  DatabaseRateLimits,
  deleteRefilledBuckets,
  RATE_BUCKET_REFILL_MS,
  type RateLimitFallback,
} from '../../gateway/src/db/rate-buckets.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { LocalRateLimits, type RequestRateLimits } from '../../gateway/src/rate-limit.ts';
import { useMigratedDatabase } from '../helpers/database.ts';

const log = createLogger('silent');

/** `n` takes of one (task, integration), alternating between the limiters, one at a time. */
async function alternate(
  limiters: RequestRateLimits[],
  task: string,
  perMinute: number,
  n: number,
) {
  let allowed = 0;
  for (let i = 0; i < n; i++) {
    const wait = await limiters[i % limiters.length]!.take(task, 'echo', perMinute);
    if (wait === 0) allowed += 1;
    else expect(wait).toBeGreaterThanOrEqual(1);
  }
  return allowed;
}

describe('rate buckets in the database', () => {
  const database = useMigratedDatabase();

  it('two replicas on one database allow the limit once; two processes’ own buckets allowed it twice', async () => {
    const { sql } = database();
    const replicas = [new DatabaseRateLimits(sql, { log }), new DatabaseRateLimits(sql, { log })];
    // 30 a minute refills one every 2 s: 90 takes in well under that allow 30 (+1 if slow).
    const shared = await alternate(replicas, 'task-a', 30, 90);
    console.log(`alternating over two replicas, 30/min: ${shared} of 90 allowed (before: 60)`);
    expect(shared).toBeGreaterThanOrEqual(30);
    expect(shared).toBeLessThanOrEqual(31);
    const before = await alternate(
      [new LocalRateLimits(), new LocalRateLimits()],
      'task-a',
      30,
      90,
    );
    expect(before).toBeGreaterThanOrEqual(60);
    // The refusal says when one frees: 60/30 = 2 s at most.
    const wait = await replicas[0]!.take('task-a', 'echo', 30);
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(2);
    // Another task, or the same task on another integration, has a bucket of its own.
    expect(await replicas[1]!.take('task-b', 'echo', 30)).toBe(0);
    expect(await replicas[1]!.take('task-a', 'other', 30)).toBe(0);
  });

  it('200 takes at once from two replicas allow exactly the limit', async () => {
    const { sql } = database();
    // A timeout no take reaches: this is the statement's race, not the pool's queue (on PGlite,
    // 200 takes queue for its one connection; past 200 ms they would be decided locally).
    const replicas = [
      new DatabaseRateLimits(sql, { log, timeoutMs: 30_000 }),
      new DatabaseRateLimits(sql, { log, timeoutMs: 30_000 }),
    ];
    // 1 a minute after the 40: a refill within the test would be one more at most.
    const waits = await Promise.all(
      Array.from({ length: 200 }, (_, i) => replicas[i % 2]!.take('task-race', 'echo', 40)),
    );
    const allowed = waits.filter((w) => w === 0).length;
    expect(allowed).toBeGreaterThanOrEqual(40);
    expect(allowed).toBeLessThanOrEqual(41);
    const [row] = await sql<Array<{ n: number }>>`
      select count(*)::int as n from rate_buckets where task_id = 'task-race'`;
    expect(row!.n).toBe(1);
  });

  it('takes of many tasks at once (one statement for them) allow each task its own limit', async () => {
    const { sql } = database();
    const limiter = new DatabaseRateLimits(sql, { log, timeoutMs: 30_000 });
    // 30 tasks × 3 takes, all submitted together: batched, the same bucket's takes in rounds.
    const takes = Array.from({ length: 90 }, (_, i) => ({ task: `task-many-${i % 30}`, i }));
    const waits = await Promise.all(takes.map(({ task }) => limiter.take(task, 'echo', 2)));
    const allowed = new Map<string, number>();
    for (const [i, wait] of waits.entries()) {
      const task = takes[i]!.task;
      if (wait === 0) allowed.set(task, (allowed.get(task) ?? 0) + 1);
      else expect(wait).toBeGreaterThanOrEqual(1);
    }
    expect(allowed.size).toBe(30);
    for (const count of allowed.values()) expect(count).toBe(2);
  });

  it('a lowered limit applies at once to a full bucket (a policy reload)', async () => {
    const { sql } = database();
    const limiter = new DatabaseRateLimits(sql, { log });
    expect(await limiter.take('task-reload', 'echo', 1000)).toBe(0);
    // The bucket holds 999; at 3 a minute it is capped to 3.
    expect(await alternate([limiter], 'task-reload', 3, 10)).toBe(3);
  });

  it('a database that fails leaves the call to the process’s own bucket (fail open, counted)', async () => {
    // Nothing listens on port 1: every statement fails at once (ECONNREFUSED).
    const dead = postgres('postgres://switchboard@127.0.0.1:1/none', {
      max: 1,
      connect_timeout: 1,
      onnotice: () => {},
    });
    const fallbacks: RateLimitFallback[] = [];
    const limiter = new DatabaseRateLimits(dead, { log, onFallback: (r) => fallbacks.push(r) });
    try {
      // Still a limit: the local bucket's 5 a minute.
      expect(await alternate([limiter], 'task-dead', 5, 8)).toBe(5);
      // Refused at once (error), or still connecting when the timer fires (timeout).
      expect(fallbacks).toHaveLength(8);
      for (const reason of fallbacks) expect(['error', 'timeout']).toContain(reason);
    } finally {
      await dead.end({ timeout: 1 });
    }
  });

  it('a take the database does not answer in time is decided locally', async () => {
    const { sql } = database();
    const fallbacks: RateLimitFallback[] = [];
    const limiter = new DatabaseRateLimits(sql, {
      log,
      timeoutMs: 100,
      onFallback: (r) => fallbacks.push(r),
    });
    expect(await limiter.take('task-held', 'echo', 10)).toBe(0);
    // A transaction holds the bucket's row (on PGlite: the only connection) for 1.5 s.
    let held: () => void = () => {};
    const release = new Promise<void>((resolve) => {
      held = resolve;
    });
    let locked: () => void = () => {};
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holder = sql.begin(async (tx) => {
      await tx`select 1 from rate_buckets where task_id = 'task-held' for update`;
      locked();
      await release;
    });
    await isLocked;
    const started = performance.now();
    const wait = await limiter.take('task-held', 'echo', 10);
    const tookMs = performance.now() - started;
    console.log(`a take behind a held row answered in ${tookMs.toFixed(0)} ms (timeout 100 ms)`);
    expect(wait).toBe(0);
    expect(fallbacks).toEqual(['timeout']);
    held();
    await holder;
    // The late statement still counts once it runs (or, queued, was dropped); the bucket goes on.
    await expect.poll(async () => limiter.take('task-held', 'echo', 10)).toBe(0);
    expect(fallbacks).toEqual(['timeout']);
  });

  it('the retention sweep deletes buckets untouched for a minute, and only those', async () => {
    const { sql } = database();
    const limiter = new DatabaseRateLimits(sql, { log });
    for (let i = 0; i < 30; i++) await limiter.take(`task-sweep-${i}`, 'echo', 10);
    await sql`
      update rate_buckets set at = now() - interval '61 seconds'
       where task_id like 'task-sweep-%' and split_part(task_id, '-', 3)::int < 20`;
    const before = await sql<Array<{ n: number }>>`select count(*)::int as n from rate_buckets`;
    let deleted = 0;
    for (let n = 0; n < 5; n++)
      deleted += await deleteRefilledBuckets(sql, RATE_BUCKET_REFILL_MS, 7);
    expect(deleted).toBe(20);
    const left = await sql<Array<{ task_id: string }>>`
      select task_id from rate_buckets where task_id like 'task-sweep-%'`;
    expect(left.map((r) => r.task_id).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `task-sweep-${i + 20}`).sort(),
    );
    const after = await sql<Array<{ n: number }>>`select count(*)::int as n from rate_buckets`;
    expect(after[0]!.n).toBe(before[0]!.n - 20);
  });
});
