-- 0009: task budgets (issue 15, gateway/src/guards/budgets.ts). Forward-only, like 0001–0008.
--
-- One row per task that has a budget, holding its counts, so every gateway replica counts the
-- same calls: each call of a budgeted task is one upsert of this row that only succeeds while
-- the limits hold (tasks/sql/budgets.ts), so concurrent calls on any replica cannot overshoot.
-- A task without a budget has no row and costs no statement.
--   limits      the grant's own budget (an external task's `budget`), parsed: toolCalls,
--               perTool, upstreamBytes, wallTimeMs; null when only the profile's applies (the
--               policy's current one is read at each call, so a reload narrows running tasks).
--   calls       tool calls let through.
--   per_tool    calls let through per budget pattern, {"github:comment": 3}: at most the
--               budget's patterns (≤ 100) as keys, so it is bounded. A row per tool was the
--               other choice; one jsonb column lets one statement check and count every limit
--               (test/bench/budget-counts.ts: ~2.5–5x the calls/s of a row per tool, which
--               needs a transaction of two statements to check both limits atomically).
--   upstream_bytes  bytes of upstream results (their JSON), added after each call.
--   exceeded    the limits that have refused a call (toolCalls, perTool:<pattern>,
--               upstreamBytes, wallTime): a limit's task:budget_exceeded event is written once,
--               by the statement that adds it here.
-- The row lives and dies with its task (on delete cascade): one per task, never more.
create table task_budgets (
  task_id uuid primary key references tasks (id) on delete cascade,
  limits jsonb,
  calls integer not null default 0 check (calls >= 0),
  per_tool jsonb not null default '{}',
  upstream_bytes bigint not null default 0 check (upstream_bytes >= 0),
  exceeded text[] not null default '{}',
  updated_at timestamptz not null default now()
);
