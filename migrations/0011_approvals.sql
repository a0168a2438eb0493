-- 0011: human approval of tool calls (issue 15, gateway/src/approvals/, guards/approvals.ts).
-- Forward-only, like 0001–0010.
--
-- One row per approval request: a tool call that a policy `approvals` rule holds until an
-- operator approves or denies it (API, CLI), on any replica. The call's gateway waits on the
-- row (woken over the bus, polling as a fallback); an approval is bound to the exact call: its
-- task, integration, tool and the sha256 of its canonical arguments (arguments_hash), and lets
-- exactly one call through (used_at). A request nobody decided by expires_at is expired:
-- reads report it so and the decide statement refuses it, so a late or lost decision can never
-- approve anything. After a gateway restart the agent's retry of the same call finds the row
-- (still pending: it waits again; approved and unused: it proceeds once; anything else: a new
-- request), never a silent approval.
--   arguments  the call's arguments as the operator reviews them; over 16 KiB of JSON, a
--              preview instead ({"truncated": true, "preview": "…"}), the hash still binds
--              the decision to the whole.
--   status     pending | approved | denied | expired (written by the waiting gateway at the
--              timeout). Reads report a pending row past expires_at as expired (its gateway
--              may be gone), and one whose task has ended as cancelled.
--   decided_by the API key's name (or the CLI's actor), decided_at and reason with it.
-- Bounded: a task has at most 100 requests (approvals.ts MAX_REQUESTS_PER_TASK); the rows live
-- and die with their task (on delete cascade, so retention removes them with it).
create table approvals (
  id uuid primary key default gen_random_uuid(),
  -- Lists and their cursors, newest first (a bigint: compared as a number, never as text).
  seq bigint generated always as identity unique,
  task_id uuid not null references tasks (id) on delete cascade,
  rule text not null,
  integration text not null,
  tool text not null,
  arguments jsonb not null,
  arguments_hash text not null,
  status text not null default 'pending'
    check (status in ('pending', 'approved', 'denied', 'expired')),
  requested_at timestamptz not null default now(),
  expires_at timestamptz not null,
  decided_at timestamptz,
  decided_by text,
  reason text,
  used_at timestamptz
);

-- The retry of a call finds its request; a task's count of requests.
create index approvals_call on approvals (task_id, integration, tool, arguments_hash);
-- `approvals list --status pending`, newest first (the unique seq serves the unfiltered list).
create index approvals_pending on approvals (seq) where status = 'pending';
