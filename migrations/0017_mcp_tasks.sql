-- MCP tasks (the io.modelcontextprotocol/tasks extension, SEP-2663): a task-augmented tools/call
-- the gateway runs itself as a durable call (gateway/src/mcp-tasks/). Not the agent tasks of
-- table `tasks`: `agent_task_id` names the agent task whose token created the row, and only
-- tokens of that agent task see it.
CREATE TABLE mcp_tasks (
  id                text PRIMARY KEY,            -- 192 random bits, base64url
  agent_task_id     text NOT NULL,
  token_id          text NOT NULL,
  claims            jsonb NOT NULL,              -- the creating token's verified claims (no secret)
  integration       text NOT NULL,
  tool              text NOT NULL,
  view_integration  text,                        -- the endpoint: null = the aggregate /mcp
  requested_name    text NOT NULL,               -- the tool name as the agent called it
  arguments         jsonb,
  input_capabilities jsonb NOT NULL DEFAULT '{}',
  idempotent        boolean NOT NULL DEFAULT false,
  status            text NOT NULL DEFAULT 'working'
                    CHECK (status IN ('working', 'input_required', 'completed', 'failed', 'cancelled')),
  queued            boolean NOT NULL DEFAULT true, -- due for a run (created, or its input complete)
  input_requests    jsonb,
  input_responses   jsonb NOT NULL DEFAULT '{}',
  request_state     text,
  result            jsonb,
  error             jsonb,
  ttl_ms            integer NOT NULL,
  poll_interval_ms  integer NOT NULL,
  attempts          integer NOT NULL DEFAULT 0,
  lease_owner       text,
  lease_until       timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  expires_at        timestamptz NOT NULL
);

CREATE INDEX mcp_tasks_queued ON mcp_tasks (created_at) WHERE queued;
CREATE INDEX mcp_tasks_leased ON mcp_tasks (lease_until) WHERE lease_until IS NOT NULL;
-- The caps of one agent task (100 open, 1000 unexpired) and every read by (id, agent task).
CREATE INDEX mcp_tasks_agent_task ON mcp_tasks (agent_task_id, expires_at);
CREATE INDEX mcp_tasks_expires ON mcp_tasks (expires_at);
