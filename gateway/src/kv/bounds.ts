/**
 * The bounds of key-value storage (issue 18), each with its reason. They are constants, not
 * settings: a namespace is an integration's small durable state (a cursor, a token's expiry, a
 * mapping of ids), and one number for everyone keeps the database's worst case known
 * (migrations/0014_kv.sql). An integration that needs more wants a database of its own.
 */

/**
 * 512 characters of A-Z a-z 0-9 . _ - : / @ + = ~ — ASCII only, so characters are bytes: room
 * for a composite key (`github:org/repo:issue:123`), nothing that needs escaping in a log, a
 * shell or SQL LIKE (the listing's prefix is matched with starts_with, never LIKE). A `/` in a
 * key travels percent-encoded (%2F) in the URL's last segment.
 */
export const KV_KEY_MAX_BYTES = 512;
export const KV_KEY = /^[A-Za-z0-9._:/@+=~-]{1,512}$/;
export const KV_KEY_EXPECTED = 'expected 1 to 512 characters of A-Z a-z 0-9 and . _ - : / @ + = ~';

/**
 * 64 KiB of JSON text (UTF-8) per value: a few pages of state, far below the API's 1 MiB body
 * limit; a row stays small enough that reading one is never a large read.
 */
export const KV_VALUE_MAX_BYTES = 64 * 1024;

/** 10,000 keys per integration, expired ones included until pruned: a listing stays short. */
export const KV_MAX_KEYS = 10_000;

/**
 * 16 MiB of values per integration (256 values at the maximum size, 10,000 of 1.6 KiB): with
 * the key bound, no integration can grow the table past ~21 MiB however it writes.
 */
export const KV_MAX_TOTAL_BYTES = 16 * 1024 * 1024;

/**
 * A TTL of 1 s to 366 days: a year-long expiry is still an expiry; none at all is `ttlSeconds`
 * unset.
 */
export const KV_TTL_MAX_SECONDS = 366 * 24 * 3600;

/** A listing page: 100 keys by default, 1,000 at most. */
export const KV_LIST_DEFAULT = 100;
export const KV_LIST_MAX = 1_000;
