-- 0018: 2025-era clients behind a plain round-robin balancer (issue 19 item 1).
-- Forward-only, like 0001–0017.
--
-- A 2025-era client is served statelessly: its `initialize`, its `logging/setLevel`, its tool
-- calls and its replies to the gateway's server→client requests are requests of their own, and
-- a balancer may send each to another replica. What used to live in one process's memory lives
-- here, so no replica needs to have seen the client before.
--
-- era2025_handshakes: what the client said of itself (gateway/src/mcp/era-2025-clients.ts).
--   token_id      the token the client used (one row per token: bounded by live tokens).
--   capabilities  only its input kinds (elicitation, sampling, roots), ≤ 4 KiB of JSON
--                 (MAX_CAPABILITIES_BYTES; larger declarations are stored as {}).
--   log_level     its logging/setLevel, null until it asks; an initialize clears it.
--   expires_at    the token's expiry: nothing reads the row after it; the retention job
--                 deletes it (≤ 1000 rows per statement).
create table era2025_handshakes (
  token_id text primary key,
  capabilities jsonb not null,
  log_level text check (log_level in
    ('debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency')),
  expires_at timestamptz not null,
  updated_at timestamptz not null default now()
);
create index era2025_handshakes_expires_at on era2025_handshakes (expires_at);

-- client_reply_waits: a server→client request (elicitation/create, sampling/createMessage,
-- roots/list) a replica sent on a call's SSE stream and waits the answer for
-- (gateway/src/mcp/client-replies.ts). The client saw the id as `switchboard-<id>`.
--   token_id   only this token's replies are taken for it.
--   instance   the replica holding the call (gateway.ts `owner`), for operators: the holder
--              is told by NOTIFY and finds the request in its own memory.
--   reply      null while waiting; the client's reply as JSON text (≤ 4 MiB, the MCP body
--              limit) when it reached another replica, until the holder takes it (it deletes
--              the row). Text, not jsonb: the reply reaches the server as the client wrote it
--              (jsonb would reorder its object keys).
--   expires_at the token's expiry; the holder deletes its rows when the call ends, the
--              retention job those of a replica that died.
-- Bounded: ≤ 100 waiting rows per token (MAX_WAITS_PER_TOKEN), and a reply is written only
-- into an existing row of its own token, so replies to ids nobody asked create nothing.
create table client_reply_waits (
  id bigint generated always as identity primary key,
  token_id text not null,
  instance text not null,
  reply text check (octet_length(reply) <= 4194304),
  expires_at timestamptz not null,
  created_at timestamptz not null default now()
);
create index client_reply_waits_token on client_reply_waits (token_id);
create index client_reply_waits_expires_at on client_reply_waits (expires_at);
