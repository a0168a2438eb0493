import { INTEGRATION_NAME } from '@switchboard/sdk';
import { type Request, Router } from 'express';
import * as z from 'zod';
import type { Pool } from '../db/connect.ts';
import { notFound, SwitchboardError } from '../errors.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import {
  KV_KEY,
  KV_KEY_EXPECTED,
  KV_LIST_DEFAULT,
  KV_LIST_MAX,
  KV_TTL_MAX_SECONDS,
  KV_VALUE_MAX_BYTES,
} from '../kv/bounds.ts';
import { putEntry, removeEntry } from '../kv/put.ts';
import { findEntry, listEntries } from '../kv/store.ts';
import { parseInput } from '../validate.ts';
import { requireScope } from './auth.ts';
import { requireNamespaceAccess } from './namespace-access.ts';

/**
 * /api/v1/kv/:integration[/:key] (issue 18): key-value storage, one namespace per integration,
 * with versioned compare-and-set and TTLs. Scopes kv:read and kv:write; an integration's own
 * key only in its own namespace while it is granted storage.kv (namespace-access.ts). The bounds
 * are kv/bounds.ts; writes are kv/put.ts.
 */

const Integration = z
  .string()
  .regex(INTEGRATION_NAME, 'expected an integration name (e.g. github)');
const Key = z.string().regex(KV_KEY, KV_KEY_EXPECTED);
const NamespaceParams = z.strictObject({ integration: Integration });
const KeyParams = z.strictObject({ integration: Integration, key: Key });

const Version = z
  .int({ error: 'expected a whole number ≥ 0 (0: the key must not exist)' })
  .min(0, 'expected a whole number ≥ 0 (0: the key must not exist)');

export const KvPutBody = z.strictObject({
  value: z.json().describe(`any JSON value, at most ${KV_VALUE_MAX_BYTES} bytes as JSON text`),
  ttlSeconds: z
    .int({ error: `expected a whole number of seconds from 1 to ${KV_TTL_MAX_SECONDS}` })
    .min(1, `expected a whole number of seconds from 1 to ${KV_TTL_MAX_SECONDS}`)
    .max(KV_TTL_MAX_SECONDS, `expected a whole number of seconds from 1 to ${KV_TTL_MAX_SECONDS}`)
    .optional()
    .describe('unset: kept until deleted (a write without it clears an earlier TTL)'),
  ifVersion: Version.optional().describe(
    'write only if the key is at this version; 0: only if it does not exist',
  ),
});

export const KvDeleteQuery = z.strictObject({
  ifVersion: z.coerce
    .number({ error: 'expected a whole number ≥ 1' })
    .int('expected a whole number ≥ 1')
    .min(1, 'expected a whole number ≥ 1')
    .optional(),
});

export const KvListQuery = z.strictObject({
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9._:/@+=~-]{0,512}$/, `prefix: ${KV_KEY_EXPECTED}`)
    .optional(),
  cursor: Key.optional().describe('the `next` of the previous page'),
  limit: z.coerce
    .number({ error: `expected a whole number from 1 to ${KV_LIST_MAX}` })
    .int(`expected a whole number from 1 to ${KV_LIST_MAX}`)
    .min(1, `expected a whole number from 1 to ${KV_LIST_MAX}`)
    .max(KV_LIST_MAX, `expected a whole number from 1 to ${KV_LIST_MAX}`)
    .default(KV_LIST_DEFAULT),
});

const Timestamp = z.iso.datetime({ offset: true });
export const KvEntryAnswer = z.object({
  key: z.string(),
  value: z.json(),
  version: z.int(),
  expiresAt: Timestamp.nullable(),
  updatedAt: Timestamp,
});
export const KvWriteAnswer = z.object({
  key: z.string(),
  version: z.int(),
  expiresAt: Timestamp.nullable(),
  updatedAt: Timestamp,
});
export const KvListAnswer = z.object({
  keys: z.array(
    z.object({
      key: z.string(),
      version: z.int(),
      sizeBytes: z.int(),
      expiresAt: Timestamp.nullable(),
      updatedAt: Timestamp,
    }),
  ),
  /** Pass as `cursor` for the next page; null on the last page. */
  next: z.string().nullable(),
});

/**
 * 64 levels of nesting: PostgreSQL parses jsonb recursively, and a 64 KiB value of `[[[[…`
 * could otherwise reach its stack depth limit (a 500 instead of a clear 400).
 */
const MAX_DEPTH = 64;

/** The value's JSON size in bytes, after checking what jsonb refuses (NUL) and its depth. */
function measureValue(value: unknown): number {
  const problem = jsonbProblem(value, 0);
  if (problem) {
    throw new SwitchboardError('invalid_request', `invalid body: value: ${problem}`, {
      details: { field: 'value' },
    });
  }
  const size = Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (size > KV_VALUE_MAX_BYTES) {
    throw new SwitchboardError(
      'payload_too_large',
      `value: ${size} bytes of JSON, over the ${KV_VALUE_MAX_BYTES} a key may hold`,
      { details: { field: 'value', limit: KV_VALUE_MAX_BYTES, size } },
    );
  }
  return size;
}

function jsonbProblem(value: unknown, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return `nested deeper than ${MAX_DEPTH} levels`;
  if (typeof value === 'string') {
    return value.includes('\u0000') ? 'a string holds a NUL character (\\u0000)' : undefined;
  }
  if (Array.isArray(value)) {
    for (const item of value) {
      const problem = jsonbProblem(item, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, item] of Object.entries(value)) {
      if (k.includes('\u0000')) return 'an object key holds a NUL character (\\u0000)';
      const problem = jsonbProblem(item, depth + 1);
      if (problem) return problem;
    }
  }
  return undefined;
}

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

export function kvRoutes(deps: { sql: Pool; registry: IntegrationRegistry }): Router {
  const { sql, registry } = deps;
  const router = Router();
  const access = (req: Request, integration: string) =>
    requireNamespaceAccess(req.apiKey, registry, integration, 'storage.kv');

  router.get('/kv/:integration', requireScope('kv:read'), async (req, res) => {
    const { integration } = parseInput(NamespaceParams, req.params, 'path');
    access(req, integration);
    const query = parseInput(KvListQuery, req.query, 'query');
    const rows = await listEntries(sql, integration, {
      prefix: query.prefix,
      cursor: query.cursor,
      limit: query.limit + 1,
    });
    const page = rows.slice(0, query.limit);
    res.json({
      keys: page.map((r) => ({
        key: r.key,
        version: r.version,
        sizeBytes: r.sizeBytes,
        expiresAt: iso(r.expiresAt),
        updatedAt: iso(r.updatedAt),
      })),
      next: rows.length > query.limit ? page[page.length - 1]!.key : null,
    });
  });

  router.get('/kv/:integration/:key', requireScope('kv:read'), async (req, res) => {
    const { integration, key } = parseInput(KeyParams, req.params, 'path');
    access(req, integration);
    const entry = await findEntry(sql, integration, key);
    if (!entry) throw notFound(`no key ${JSON.stringify(key)}`);
    res.json({
      key,
      value: entry.value,
      version: entry.version,
      expiresAt: iso(entry.expiresAt),
      updatedAt: iso(entry.updatedAt),
    });
  });

  router.put('/kv/:integration/:key', requireScope('kv:write'), async (req, res) => {
    const { integration, key } = parseInput(KeyParams, req.params, 'path');
    access(req, integration);
    const body = parseInput(KvPutBody, req.body ?? {}, 'body');
    if (!Object.hasOwn(req.body as object, 'value')) {
      throw new SwitchboardError('invalid_request', 'invalid body: value: expected a JSON value', {
        details: { field: 'value' },
      });
    }
    const sizeBytes = measureValue(body.value);
    const written = await putEntry(sql, {
      integration,
      key,
      value: body.value,
      sizeBytes,
      ttlSeconds: body.ttlSeconds ?? null,
      ifVersion: body.ifVersion,
    });
    res.json({
      key,
      version: written.version,
      expiresAt: iso(written.expiresAt),
      updatedAt: iso(written.updatedAt),
    });
  });

  router.delete('/kv/:integration/:key', requireScope('kv:write'), async (req, res) => {
    const { integration, key } = parseInput(KeyParams, req.params, 'path');
    access(req, integration);
    const { ifVersion } = parseInput(KvDeleteQuery, req.query, 'query');
    const version = await removeEntry(sql, integration, key, ifVersion);
    res.json({ key, deleted: true, version });
  });

  return router;
}
