-- 0002: what the task queue (issue 5) needs beyond 0001. Forward-only, like 0001.

-- Creation order. created_at is the start time of the inserting transaction, so every task
-- inserted by one transaction has the same created_at, and uuid ids break no ties: sessions run
-- their tasks in seq order instead, and claims take the oldest seq first.
alter table tasks add column seq bigint generated always as identity;

-- Why a task failed or was cancelled, as a stable code (lease_expired, timeout, cancelled,
-- agent_error, …); `error` keeps the message for people.
alter table tasks add column reason text;

-- A claim scans the pending tasks of one profile oldest first, then counts that profile's
-- running tasks, and checks the unfinished tasks of each candidate's session.
create index tasks_pending_profile on tasks (profile, seq) where status = 'pending';
create index tasks_running_profile on tasks (profile) where status = 'running';
create index tasks_session_unfinished on tasks (session_id, seq)
  where status in ('pending', 'running');
