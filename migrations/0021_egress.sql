-- 0021: the egress proxy's connection log (issue 21; gateway/src/egress/store.ts writes it,
-- `switchboard egress list` and GET /api/v1/egress read it). Forward-only, like 0001–0020.
--
-- One row per connection an integration's program opened through the proxy: a CONNECT tunnel
-- or one forwarded plain-HTTP request, allowed or not.
--   integration  the integration its credentials named; null when they named none (refused
--                `unauthenticated`).
--   task_id      the task whose server instance opened it, when its credentials carry one.
--                No foreign key: the row is evidence and outlives a deleted task.
--   kind         connect | http.
--   host, port   what was asked for (host lowercase, at most 253 characters).
--   address      the address the proxy checked and connected to; null if it never connected.
--   outcome      allowed | refused | failed; reason one of egress/types.ts EGRESS_REASONS.
--   bytes_up     integration → upstream; bytes_down the other way (bodies, tunnel payload).
--   mtls         the proxy originated TLS with the integration's client certificate.
-- Bounded: the proxy caps connections per integration at once, writes are batched (store.ts,
-- at most 10,000 pending; beyond that rows are counted as dropped, never queued), and the
-- retention job deletes rows older than the policy's retention.egress (30d by default).
create table egress_connections (
  id bigint generated always as identity primary key,
  started_at timestamptz not null,
  integration text,
  task_id uuid,
  kind text not null,
  host text not null,
  port integer not null,
  address text,
  outcome text not null,
  reason text,
  bytes_up bigint not null,
  bytes_down bigint not null,
  duration_ms integer not null,
  mtls boolean not null default false
);
-- `egress list --integration NAME`, newest first, by id.
create index egress_connections_integration on egress_connections (integration, id);
-- The retention job's sweep: oldest first.
create index egress_connections_started on egress_connections (started_at);
