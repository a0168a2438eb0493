-- 0012: operator console sessions (issue 16, gateway/src/console/, keys/console-sessions.ts).
-- Forward-only, like 0001–0011.
--
-- Signing in to the console exchanges an operator API key for a random session token held in
-- an HttpOnly, SameSite=Strict cookie. Only the token's sha256 is stored (token_hash), so a
-- leaked table signs nobody in. A session acts with its key's scopes and dies with it: every
-- lookup joins api_keys and refuses a revoked key, an ended session (signed out, or pushed out
-- by the per-key cap) and one past expires_at (an absolute lifetime, 12 h by default).
-- Bounded: each sign-in ends the key's oldest live sessions past 20 and deletes its ended and
-- expired ones, so a key holds at most 20 rows after any sign-in (the audit log keeps who signed
-- in and out).
create table console_sessions (
  id bigint generated always as identity primary key,
  token_hash bytea not null unique,
  api_key_id bigint not null references api_keys (id) on delete cascade,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  last_seen_at timestamptz not null default now(),
  ended_at timestamptz,
  -- The browser's User-Agent at sign-in, cut to 200 characters: shown in the audit details.
  user_agent text
);
create index console_sessions_key on console_sessions (api_key_id);
