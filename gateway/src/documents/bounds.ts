import { z } from 'zod';

/** Every bound on documents, with why (docs/operator-guide.md "Documents"). */

/**
 * 512 KiB of content (UTF-8 bytes) per document: a ~100-page text. Larger ones are split by the
 * caller. Why not 1 MiB: the API takes JSON bodies of at most 1 MiB (api/router.ts), so escaped
 * content near 1 MiB could not arrive at all; and PostgreSQL caps a tsvector at 1 MiB, which a
 * text of many distinct words reaches at well under 1 MiB (the store answers that case as
 * payload_too_large too).
 */
export const CONTENT_MAX_BYTES = 512 * 1024;
/**
 * 50,000 documents per integration: every pull request of a large repository, while one
 * integration's bug cannot fill the database. And 256 MiB of content per integration in all.
 */
export const DOCUMENTS_PER_INTEGRATION = 50_000;
export const BYTES_PER_INTEGRATION = 256 * 1024 * 1024;
/** A search answers at most 50 hits a page (each with a snippet and a 2,000-character excerpt). */
export const SEARCH_LIMIT_MAX = 50;
export const SEARCH_LIMIT_DEFAULT = 10;
/**
 * Pages go at most 1,000 hits deep: each page ranks every match before it (and, in hybrid mode,
 * fuses offset + limit candidates from each side); nobody reads the 1,001st hit.
 */
export const SEARCH_OFFSET_MAX = 1_000;
/** 1,000 characters of query: a long question, far below what makes a tsquery costly. */
export const QUERY_MAX_CHARS = 1_000;
/**
 * A search statement is cancelled after 5 s (set local statement_timeout): a pathological query
 * on 50,000 documents must not hold a connection of the pool.
 */
export const SEARCH_TIMEOUT_MS = 5_000;

/** Like session keys (sessions/store.ts): at most 200 characters. */
const SessionKey = z
  .string({ error: 'expected a session key such as "github:acme/app#7"' })
  .min(1, 'expected a non-empty session key')
  .max(200, 'expected at most 200 characters');

// biome-ignore lint/suspicious/noControlCharactersInRegex: Postgres text refuses NUL
const NO_NUL = (s: string) => !/\u0000/.test(s);

export const DocumentInput = z.strictObject({
  /** Required with an operator key; an integration's key may leave it out (it is its own). */
  integration: z
    .string({ error: 'expected an integration name' })
    .regex(/^[a-z][a-z0-9-]{0,40}$/, 'expected an integration name (lowercase, digits, -)')
    .optional(),
  session: SessionKey.optional(),
  externalKey: z
    .string({ error: 'expected externalKey, your own id of the document, e.g. "pr:acme/app#7"' })
    .min(1, 'expected a non-empty externalKey')
    .max(500, 'expected at most 500 characters')
    .refine(NO_NUL, 'expected no NUL character'),
  title: z
    .string()
    .max(1_000, 'expected at most 1000 characters')
    .refine(NO_NUL, 'expected no NUL character')
    .default(''),
  uri: z.string().max(2_000, 'expected at most 2000 characters').optional(),
  content: z
    .string({ error: 'expected content (a string)' })
    .refine(NO_NUL, 'expected no NUL character')
    .refine((s) => Buffer.byteLength(s) <= CONTENT_MAX_BYTES, {
      message: `expected at most ${CONTENT_MAX_BYTES} bytes (512 KiB) of content: split a longer text into several documents`,
    }),
  /** Small: 16 KiB as JSON. */
  metadata: z
    .record(z.string(), z.unknown())
    .refine((m) => JSON.stringify(m).length <= 16_384, 'expected at most 16384 characters of JSON')
    .default({}),
});
export type DocumentInput = z.output<typeof DocumentInput>;

export const SearchInput = z.strictObject({
  q: z
    .string({ error: 'expected q, the query' })
    .trim()
    .min(1, 'expected a non-empty query')
    .max(QUERY_MAX_CHARS, `expected at most ${QUERY_MAX_CHARS} characters`)
    .refine(NO_NUL, 'expected no NUL character'),
  integration: DocumentInput.shape.integration,
  session: SessionKey.optional(),
  limit: z.coerce
    .number({ error: 'expected a number' })
    .int('expected a whole number')
    .min(1, 'expected at least 1')
    .max(SEARCH_LIMIT_MAX, `expected at most ${SEARCH_LIMIT_MAX}`)
    .default(SEARCH_LIMIT_DEFAULT),
  offset: z.coerce
    .number({ error: 'expected a number' })
    .int('expected a whole number')
    .min(0, 'expected at least 0')
    .max(SEARCH_OFFSET_MAX, `expected at most ${SEARCH_OFFSET_MAX}`)
    .default(0),
});
export type SearchInput = z.output<typeof SearchInput>;

export const DocumentId = z
  .string()
  .regex(/^[1-9][0-9]{0,17}$/, 'expected a document id (a positive whole number)');
