-- 0019: the per-token rate limit across replicas (issue 19; gateway/src/db/rate-buckets.ts).
-- Forward-only, like 0001–0018.
--
-- One token bucket per (task, rate-limited integration): the policy's
-- `integrations.<name>.rateLimit.requestsPerMinute` is counted here on PostgreSQL, so N gateway
-- replicas give a task the same limit as one (the embedded PGlite is one process: there the
-- in-memory buckets of rate-limit.ts are exact and no row is written). Per task, across every
-- token of the task (one for /mcp, one per /mcp/<name>): per token, a task given a token per
-- endpoint would have the limit once per token.
--   task_id      the task of the verified token (its claims' taskId).
--   integration  the integration called (a name the policy rate-limits: no other gets a row).
--   tokens       what is left of the bucket at `at`, 0 to the limit; refilled by elapsed time
--                in the one statement that takes from it (rate-buckets.ts takeFromBucket).
--   at           when it was last taken from (the database's clock: replicas' clocks never mix).
--   taken        whether that last take was allowed (what the statement returns).
-- Bounded: a row exists only for a pair that made a request in the last minute or so (a bucket
-- untouched for 60 s has refilled and carries no state; the retention job deletes it), and a
-- task has at most one row per rate-limited integration of the policy.
-- Unlogged: a take is a write on the request's path, and a logged one waits for its WAL flush
-- (+1.7 ms a rate-limited call on the bench VM, where an unlogged one costs ~0.3 ms; RESULTS.md).
-- What a crash or a failover loses is only the buckets' levels: every bucket starts full again,
-- one extra burst per task at most, as a process restart did when they were in memory.
create unlogged table rate_buckets (
  task_id text not null,
  integration text not null,
  tokens double precision not null,
  at timestamptz not null,
  taken boolean not null,
  primary key (task_id, integration)
);
-- The retention job's sweep: buckets untouched for a minute, oldest first.
create index rate_buckets_at on rate_buckets (at);
