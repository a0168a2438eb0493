import { GroupCommit } from '../group-commit.ts';
import type { Logger } from '../log.ts';
import { LocalRateLimits, type RequestRateLimits } from '../rate-limit.ts';
import type { Pool, Sql } from './connect.ts';

/**
 * The per-(task, integration) rate limit counted in PostgreSQL (table rate_buckets,
 * migrations/0019_rate_buckets.sql), so that N gateway replicas give a token the same
 * `requestsPerMinute` as one: a token bucket of `perMinute` tokens, refilled at `perMinute` a
 * minute, refilled and taken from in one UPSERT (the row lock orders concurrent takes, from any
 * replica; the database's clock is the only clock).
 */

/**
 * A take runs on the request's path: bounded at 200 ms (it takes ~0.3 ms on an idle pool;
 * test/bench/HISTORY.md), past which it is cancelled and the process's own bucket decides.
 */
export const RATE_LIMIT_STATEMENT_MS = 200;

/**
 * Refills the bucket by the time since its last take (never less than 0: a statement that began
 * before another replica's take may reach the row after it) and takes one token when there is
 * one; a new bucket starts full. Returns what is left and whether this take was allowed.
 */
export function takeFromBucket(sql: Sql, taskId: string, integration: string, perMinute: number) {
  const refilled = sql`least(${perMinute}::float8, b.tokens
    + greatest(0, extract(epoch from now() - b.at)) * ${perMinute}::float8 / 60)`;
  return sql<Array<{ tokens: number; taken: boolean }>>`
    insert into rate_buckets as b (task_id, integration, tokens, at, taken)
    values (${taskId}, ${integration}, ${perMinute}::float8 - 1, now(), true)
    on conflict (task_id, integration) do update set
      tokens = case when ${refilled} >= 1 then ${refilled} - 1 else ${refilled} end,
      at = greatest(b.at, now()),
      taken = ${refilled} >= 1
    returning tokens, taken`;
}

/** One take waiting for its statement; `abandoned` once the caller was answered locally. */
interface Take {
  taskId: string;
  integration: string;
  perMinute: number;
  abandoned: boolean;
}
type Taken = { tokens: number; taken: boolean } | undefined;

async function takeOne(sql: Sql, take: Take): Promise<Taken> {
  if (take.abandoned) return undefined;
  const [row] = await takeFromBucket(sql, take.taskId, take.integration, take.perMinute);
  return row;
}

/**
 * takeFromBucket for many buckets in one statement (each row's limit is its `excluded.tokens`
 * + 1). A statement may update a row once only, so the takes of one bucket go in rounds: the
 * first take of each bucket, then the second, … (one round for calls of different tasks, the
 * common case). Rows are locked in key order, so concurrent statements (other batches, other
 * replicas) cannot deadlock.
 */
async function takeMany(sql: Sql, takes: Take[]): Promise<Taken[]> {
  const results: Taken[] = takes.map(() => undefined);
  let pending = takes.map((take, index) => ({ take, index })).filter((t) => !t.take.abandoned);
  while (pending.length > 0) {
    const round = new Map<string, { take: Take; index: number }>();
    const later: typeof pending = [];
    for (const item of pending) {
      const key = `${item.take.taskId}\u0000${item.take.integration}`;
      if (round.has(key)) later.push(item);
      else round.set(key, item);
    }
    const sorted = [...round.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const rows = await takeRound(
      sql,
      sorted.map(([, item]) => item.take),
    );
    for (const row of rows) {
      const item = round.get(`${row.task_id}\u0000${row.integration}`);
      if (item) results[item.index] = { tokens: row.tokens, taken: row.taken };
    }
    pending = later;
  }
  return results;
}

function takeRound(sql: Sql, takes: Take[]) {
  const refilled = sql`least(excluded.tokens + 1, b.tokens
    + greatest(0, extract(epoch from now() - b.at)) * (excluded.tokens + 1) / 60)`;
  return sql<Array<{ task_id: string; integration: string; tokens: number; taken: boolean }>>`
    insert into rate_buckets as b (task_id, integration, tokens, at, taken)
    select r.task_id, r.integration, r.per_minute - 1, now(), true
      from unnest(${takes.map((t) => t.taskId)}::text[],
                  ${takes.map((t) => t.integration)}::text[],
                  ${takes.map((t) => t.perMinute)}::float8[])
        with ordinality as r(task_id, integration, per_minute, n)
     order by r.n
    on conflict (task_id, integration) do update set
      tokens = case when ${refilled} >= 1 then ${refilled} - 1 else ${refilled} end,
      at = greatest(b.at, now()),
      taken = ${refilled} >= 1
    returning b.task_id, b.integration, b.tokens, b.taken`;
}

/**
 * Buckets untouched for `olderThanMs` (the retention job passes 60 s: by then any bucket has
 * refilled, so a missing row means the same, a full bucket), `limit` at a time, skipping rows a
 * take holds.
 */
export async function deleteRefilledBuckets(
  sql: Sql,
  olderThanMs: number,
  limit: number,
): Promise<number> {
  const result = await sql`
    with doomed as (
      select b.task_id, b.integration from rate_buckets b
       where b.at < now() - ${olderThanMs}::float8 * interval '1 millisecond'
       order by b.at
       limit ${limit}
       for update of b skip locked)
    delete from rate_buckets d using doomed
     where d.task_id = doomed.task_id and d.integration = doomed.integration`;
  return result.count;
}

/** A bucket's age past which it has refilled whatever its limit (capacity = one minute's rate). */
export const RATE_BUCKET_REFILL_MS = 60_000;

export type RateLimitFallback = 'timeout' | 'error';

export interface DatabaseRateLimitsOptions {
  log: Logger;
  /** Each take the database did not answer in time (or failed), decided by the local bucket. */
  onFallback?: (reason: RateLimitFallback) => void;
  timeoutMs?: number;
}

/**
 * Fails open, to the process's own buckets: a database that is slow or away must not stop tool
 * calls (the limit guards an upstream from one runaway agent; the calls themselves need the
 * database little), and the local bucket still bounds a task to `perMinute` per replica, as
 * before this table, for as long as the database does not answer. Logged at most once a minute.
 */
export class DatabaseRateLimits implements RequestRateLimits {
  private readonly local = new LocalRateLimits();
  private lastWarning = Number.NEGATIVE_INFINITY;
  private readonly timeoutMs: number;
  private readonly commits: GroupCommit<Take, Taken>;

  constructor(
    private readonly sql: Pool,
    private readonly options: DatabaseRateLimitsOptions,
  ) {
    this.timeoutMs = options.timeoutMs ?? RATE_LIMIT_STATEMENT_MS;
    // The takes of requests that arrive together go in one statement (one round trip and one
    // socket write for all): at 16 concurrent clients a statement a call cost the gateway
    // ~70 µs of CPU each (test/bench, PostgreSQL). A few batches in flight, so that one take
    // waiting for a row lock does not hold every other task's.
    this.commits = new GroupCommit<Take, Taken>({
      many: (takes) => takeMany(this.sql, takes),
      one: (take) => takeOne(this.sql, take),
      maxInFlight: 4,
      maxBatch: 200,
      afterIo: true,
    });
  }

  take(taskId: string, integration: string, perMinute: number): Promise<number> {
    const take: Take = { taskId, integration, perMinute, abandoned: false };
    return new Promise<number>((resolve) => {
      // Whichever comes first decides: the answer, its failure or the timer (a take answered
      // late must not take from the local bucket a second time).
      let settled = false;
      const settle = (wait: () => number) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(wait());
      };
      const timer = setTimeout(() => {
        // Still queued (a busy pool): left out of its batch. Once sent it runs to its end (one
        // row; its only wait is another take's row lock, held for µs).
        take.abandoned = true;
        settle(() => this.fallBack('timeout', taskId, integration, perMinute));
      }, this.timeoutMs);
      this.commits.submit(take).then(
        ({ value }) => settle(() => (value ? waitOf(value, perMinute) : 0)),
        (error: unknown) =>
          settle(() => this.fallBack('error', taskId, integration, perMinute, error)),
      );
    });
  }

  private fallBack(
    reason: RateLimitFallback,
    taskId: string,
    integration: string,
    perMinute: number,
    error?: unknown,
  ): number {
    this.options.onFallback?.(reason);
    const now = Date.now();
    if (now - this.lastWarning >= 60_000) {
      this.lastWarning = now;
      this.options.log.warn(
        { reason, err: error, timeoutMs: this.timeoutMs },
        'rate limit: the database did not answer; this process counts alone (a task may make up to one limit per replica)',
      );
    }
    return this.local.take(taskId, integration, perMinute);
  }
}

/** 0 when taken, else the whole seconds until one token has refilled (at least 1: Retry-After). */
function waitOf(row: { tokens: number; taken: boolean }, perMinute: number): number {
  if (row.taken) return 0;
  const perSecond = perMinute / 60;
  return Math.max(1, Math.ceil((1 - Number(row.tokens)) / perSecond));
}
