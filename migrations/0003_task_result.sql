-- 0003: the result an agent hands in with the built-in `task_complete` tool (issue 5).
-- Forward-only, like 0001 and 0002.
--
-- The agent calls task_complete on whichever replica serves its MCP request, but the lease is
-- held by the worker that started it. So the call only records the result here; the worker
-- ends the task with its lease (completeTask) when the agent exits or soon after the call, and
-- `result` is written then. Kept apart from `result` so that a half-finished task never looks
-- complete to a reader.
alter table tasks add column agent_result text;
alter table tasks add column agent_result_at timestamptz;
