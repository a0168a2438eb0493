-- 0014: key-value storage (issue 18, gateway/src/kv/, the API's /api/v1/kv).
-- Forward-only, like 0001–0013.
--
-- One namespace per integration (`integration`), reached by operator keys with kv:* and by the
-- integration's own key (keys/integration-key.ts) while the policy grants it `storage.kv`.
--   key         1–512 characters of A-Z a-z 0-9 and . _ - : / @ + = ~ (kv/bounds.ts KV_KEY):
--               ASCII only, so 512 characters are 512 bytes; collate "C" so that the primary
--               key's index orders them bytewise, the same on every database, for the listing's
--               cursor (key > cursor).
--   value       jsonb: the API speaks JSON, so a value is stored as the document it was sent
--               as (checked once, readable by an operator in psql), with no base64 layer on
--               top; binary data is the client's to encode. jsonb normalises: object keys are
--               reordered and duplicates dropped, whitespace is not kept.
--   size_bytes  the value's JSON text in UTF-8 bytes, as the API measured it (≤ 64 KiB): the
--               per-integration total (≤ 16 MiB) is summed from it without reading values.
--   version     1 when written to an absent (or expired) key, +1 at each write: the
--               compare-and-set's token (PUT and DELETE with ifVersion).
--   expires_at  null: kept until deleted. A row past it is invisible at once (every read says
--               `expires_at > now()`), and the retention job deletes it (≤ 1000 rows per
--               statement), as does a write that would pass the integration's bounds.
-- Bounded: ≤ 10,000 rows and ≤ 16 MiB of values per integration, expired rows included
-- (kv/put.ts checks under a per-integration lock), so no namespace can grow the database past
-- ~16 MiB + 10,000 × 512 bytes of keys.
create table kv_entries (
  integration text not null,
  key text collate "C" not null check (octet_length(key) between 1 and 512),
  value jsonb not null,
  size_bytes integer not null check (size_bytes between 0 and 65536),
  version bigint not null check (version >= 1),
  expires_at timestamptz,
  updated_at timestamptz not null default now(),
  primary key (integration, key)
);

-- The retention job's scan for expired rows.
create index kv_entries_expires_at on kv_entries (expires_at) where expires_at is not null;

-- 0001's `kv` table (namespace, key, value, expires_at) was never read or written by any code:
-- kv_entries replaces it, with the version and size the API needs.
drop table kv;
