-- 0004: events in, results out (issue 6): webhook and schedule jobs, their tasks, the dispatch
-- outbox's attempt log and operators' event subscriptions. Forward-only, like 0001–0003.

-- A schedule fire of a manifest schedule is queued like a webhook delivery (same worker, same
-- retries, same `deliveries` listing): kind 'schedule', delivery_id 'schedule:<name>:<fire>'.
alter table webhook_deliveries add column kind text not null default 'webhook'
  check (kind in ('webhook', 'schedule'));
-- What processing did: {"triggers": n, "tasks": [...], "ignored": bool} (null until done).
alter table webhook_deliveries add column result jsonb;
-- POST /deliveries/:id/replay stores a copy (delivery_id '<original>:replay:<n>') pointing here.
alter table webhook_deliveries add column replay_of uuid references webhook_deliveries (id);
create index webhook_deliveries_received on webhook_deliveries (received_at desc, id);
-- Claims take the oldest due rows, recovery the expired leases: both in index order, because 0001's
-- claimable index (run_at) alone left a sort of the whole backlog on every claim (10.8 ms with
-- 30,000 pending rows, measured; 0.1 ms with these).
create index webhook_deliveries_due on webhook_deliveries (run_at, received_at)
  where status = 'pending';
create index webhook_deliveries_leased on webhook_deliveries (lease_expires_at)
  where status = 'processing';

-- The delivery (or schedule job) whose trigger created the task.
alter table tasks add column delivery_id uuid references webhook_deliveries (id) on delete set null;
create index tasks_delivery on tasks (delivery_id) where delivery_id is not null;

-- One entry per delivery attempt: {"at", "attempt", "error"?, "status"?}. Small (≤ 10 attempts).
alter table outbox add column attempt_log jsonb not null default '[]';
create index outbox_task on outbox (task_id) where task_id is not null;
create index outbox_due_order on outbox (next_attempt_at, id) where status = 'pending';
create index outbox_leased on outbox (lease_expires_at) where status = 'processing';
create index outbox_dead on outbox (dead_at desc) where status = 'dead';

-- Operators' event subscriptions: matching task events are POSTed to `url` through the outbox,
-- signed (Standard Webhooks) with the secret, which is stored encrypted under the master key.
create table event_subscriptions (
  id uuid primary key default gen_random_uuid(),
  url text not null,
  types text[] not null,                           -- 'task:done', 'task:*', 'dispatch:*' or '*'
  secret_encrypted bytea not null,
  description text,
  created_by text,
  created_at timestamptz not null default now(),
  deleted_at timestamptz
);
create index event_subscriptions_active on event_subscriptions (created_at) where deleted_at is null;

-- A manifest schedule's run is the job it queued; a policy schedule's run is its task.
alter table schedule_runs add column delivery_id uuid references webhook_deliveries (id)
  on delete set null;
