-- MCP task passthrough (gateway/src/mcp/mcp-task-upstream.ts): an MCP task whose upstream runs
-- tasks itself (the 2026-07-28 extension, or 2025-11-25 tasks) is created upstream as a task, and
-- the gateway follows it by polling. `upstream_task_id` is the upstream's own id, committed under
-- the lease right after the upstream created it: a restarted run resumes polling it instead of
-- calling the tool again. Never shown to the agent, whose id is always the gateway's own.
-- `next_poll_at`: a followed row between polls gives its worker slot back (queued again, due
-- then), so long upstream tasks do not hold the per-replica and per-agent-task running caps.
ALTER TABLE mcp_tasks
  ADD COLUMN upstream_task_id text,
  ADD COLUMN upstream_wire text CHECK (upstream_wire IN ('2026-07-28', '2025-11-25')),
  ADD COLUMN next_poll_at timestamptz;

-- Claims take queued rows by due time (coalesce(next_poll_at, created_at), store.ts
-- claimMcpTasks); parked passthrough rows stay queued between polls, so the queued set can hold
-- every long upstream task (up to 100 open per agent task), read by every replica every 2 s.
DROP INDEX mcp_tasks_queued;
CREATE INDEX mcp_tasks_due ON mcp_tasks ((coalesce(next_poll_at, created_at)), created_at) WHERE queued;
