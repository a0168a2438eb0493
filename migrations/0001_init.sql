-- 0001: the tables of ARCHITECTURE §6. Forward-only: once landed, never edit this file; put
-- changes in 0002_… and later. Written for PostgreSQL 15 (servers) and 18 (PGlite) alike.

-- A conversation with a stable key (e.g. github:acme/api); tasks in a session run in order.
create table sessions (
  id uuid primary key default gen_random_uuid(),
  key text not null unique,
  dispatch jsonb,                                  -- default target: {"type", "config"}
  profile text,
  metadata jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table messages (
  id bigint generated always as identity primary key,
  session_id uuid not null references sessions (id) on delete cascade,
  role text not null check (role in ('user', 'agent', 'system', 'integration')),
  content text not null,
  source jsonb,                                    -- who posted it: integration, delivery, key
  created_at timestamptz not null default now()
);
create index messages_session on messages (session_id, id);

-- The task queue. A claim sets lease_token/lease_expires_at; completion must present the token.
create table tasks (
  id uuid primary key default gen_random_uuid(),
  session_id uuid references sessions (id) on delete set null,
  message_id bigint references messages (id) on delete set null,
  external boolean not null default false,         -- an agent the operator runs themselves
  status text not null default 'pending'
    check (status in ('pending', 'running', 'complete', 'failed', 'cancelled')),
  prompt text not null default '',
  profile text,
  scope text[] not null default '{}',
  execution jsonb not null default '{}',           -- preamble, skills, model
  dispatch jsonb,
  result text,
  error text,
  idempotency_key text unique,
  timeout_ms integer check (timeout_ms > 0),
  attempts integer not null default 0,
  max_attempts integer not null default 3 check (max_attempts > 0),
  run_at timestamptz not null default now(),
  lease_token uuid,
  lease_owner text,
  lease_expires_at timestamptz,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  updated_at timestamptz not null default now()
);
create index tasks_claimable on tasks (run_at) where status = 'pending';
create index tasks_leased on tasks (lease_expires_at) where status = 'running';
create index tasks_session on tasks (session_id, created_at);

-- Append-only; seq orders events across tasks and is the SSE event id.
create table task_events (
  seq bigint generated always as identity primary key,
  task_id uuid not null references tasks (id) on delete cascade,
  type text not null,
  data jsonb not null default '{}',
  created_at timestamptz not null default now()
);
create index task_events_task on task_events (task_id, seq);

-- Token signing keys; the private key is encrypted with the master key (AES-256-GCM).
create table signing_keys (
  kid text primary key,
  algorithm text not null default 'EdDSA',
  public_jwk jsonb not null,
  private_key_encrypted bytea not null,
  created_at timestamptz not null default now(),
  signs_from timestamptz not null default now(),   -- published before it signs (rotation)
  retired_at timestamptz,                          -- stops signing
  verify_until timestamptz                         -- last token it signed has expired
);

create table tokens (
  jti uuid primary key,
  task_id uuid not null references tasks (id) on delete cascade,
  kid text not null references signing_keys (kid),
  audience text not null,
  scope text not null,
  issued_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz
);
create index tokens_task on tokens (task_id);

-- Operator (and integration-process) API keys: only a SHA-256 of the key is stored.
create table api_keys (
  id bigint generated always as identity primary key,
  prefix text not null unique,                     -- shown in lists; not enough to authenticate
  hash bytea not null unique,
  name text not null,
  scopes text[] not null,
  source text not null default 'cli' check (source in ('cli', 'api', 'env', 'integration')),
  integration text,
  created_by text,
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);

create table webhook_deliveries (
  id uuid primary key default gen_random_uuid(),
  integration text not null,
  endpoint text not null,
  delivery_id text not null,
  headers jsonb not null,                          -- signature and secret headers removed
  body bytea not null,
  status text not null default 'pending'
    check (status in ('pending', 'processing', 'done', 'ignored', 'failed')),
  attempts integer not null default 0,
  max_attempts integer not null default 5,
  run_at timestamptz not null default now(),
  lease_token uuid,
  lease_expires_at timestamptz,
  error text,
  received_at timestamptz not null default now(),
  processed_at timestamptz,
  unique (integration, delivery_id)
);
create index webhook_deliveries_claimable on webhook_deliveries (run_at) where status = 'pending';

-- Results and events on their way out; dead letters stay here with status 'dead'.
create table outbox (
  id bigint generated always as identity primary key,
  kind text not null check (kind in ('dispatch', 'event')),
  task_id uuid references tasks (id) on delete set null,
  target jsonb not null,
  payload jsonb not null,
  status text not null default 'pending'
    check (status in ('pending', 'processing', 'delivered', 'dead')),
  attempts integer not null default 0,
  max_attempts integer not null default 10,
  next_attempt_at timestamptz not null default now(),
  lease_token uuid,
  lease_expires_at timestamptz,
  last_error text,
  created_at timestamptz not null default now(),
  delivered_at timestamptz,
  dead_at timestamptz
);
create index outbox_due on outbox (next_attempt_at) where status = 'pending';

-- One row per schedule and fire time: the replica whose insert wins runs it.
create table schedule_runs (
  schedule text not null,                          -- <integration>/<name> or policy/<name>
  fire_time timestamptz not null,
  claimed_by text not null,
  task_id uuid references tasks (id) on delete set null,
  created_at timestamptz not null default now(),
  primary key (schedule, fire_time)
);

-- Integration settings; secret values only encrypted (iv || tag || ciphertext).
create table settings (
  integration text not null,
  key text not null,
  secret boolean not null default false,
  value_plain text,
  value_encrypted bytea,
  updated_by text,
  updated_at timestamptz not null default now(),
  primary key (integration, key),
  check ((secret and value_plain is null and value_encrypted is not null)
      or (not secret and value_encrypted is null and value_plain is not null))
);

-- Small durable state for integrations and the gateway (namespaced).
create table kv (
  namespace text not null,
  key text not null,
  value jsonb not null,
  expires_at timestamptz,
  updated_at timestamptz not null default now(),
  primary key (namespace, key)
);

-- Who changed what. Written in the same transaction as the change it records.
create table audit_log (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  actor text not null,                             -- key:<prefix> | cli:<user> | system
  api_key_id bigint references api_keys (id),
  action text not null,                            -- e.g. keys.create
  target text,
  request_id text,
  details jsonb not null default '{}'
);
create index audit_log_at on audit_log (at desc);
