-- 0006: what the retention job needs (gateway/src/retention/, issue 12). Forward-only, like
-- 0001–0005.
--
-- The job deletes old rows in batches of at most 1000, each found in index order so that a
-- batch reads about as many rows as it deletes: audit_log by 0001's audit_log_at, deliveries by
-- 0004's webhook_deliveries_received, task events by this created_at index (an event of a task
-- that ended before the cutoff was written before it).
create index task_events_created on task_events (created_at);

-- Deleting a delivery checks the rows that point at it: its replays (replay_of, no action) and
-- the schedule runs that queued it (delivery_id, set null). Without these indexes each deleted
-- row cost a scan of the whole table (tasks.delivery_id has 0004's tasks_delivery).
create index webhook_deliveries_replay_of on webhook_deliveries (replay_of)
  where replay_of is not null;
create index schedule_runs_delivery on schedule_runs (delivery_id) where delivery_id is not null;
