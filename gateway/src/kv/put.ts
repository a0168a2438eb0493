import type { Pool, Sql } from '../db/connect.ts';
import { SwitchboardError } from '../errors.ts';
import { KV_MAX_KEYS, KV_MAX_TOTAL_BYTES } from './bounds.ts';
import {
  deleteEntry,
  deleteExpiredOf,
  findEntry,
  findStoredRow,
  lockNamespace,
  namespaceUsage,
  upsertEntry,
} from './store.ts';

/**
 * Writes and deletes of key-value storage (issue 18). A write runs in one transaction under its
 * namespace's lock (store.ts lockNamespace): the compare-and-set reads the current version and
 * writes the next with no other writer in between, and the bounds are counted exactly. The
 * value's JSON size is measured by the caller (api/kv.ts) before it gets here.
 */

/** Expired rows a write prunes from its own namespace before refusing it (one statement). */
const PRUNE_ON_WRITE = 1_000;

export interface PutInput {
  integration: string;
  key: string;
  value: unknown;
  sizeBytes: number;
  ttlSeconds: number | null;
  /** 0: only if the key is absent (or expired); n: only if its version is n. */
  ifVersion: number | undefined;
}

export const versionConflict = (key: string, currentVersion: number, expected: number) =>
  new SwitchboardError(
    'kv_version_conflict',
    currentVersion === 0
      ? `key ${JSON.stringify(key)} does not exist (ifVersion was ${expected})`
      : `key ${JSON.stringify(key)} is at version ${currentVersion}, not ${expected}`,
    { details: { key, currentVersion, ifVersion: expected } },
  );

export async function putEntry(
  sql: Pool,
  input: PutInput,
): Promise<{ version: number; expiresAt: Date | null; updatedAt: Date }> {
  return sql.begin(async (tx) => {
    await lockNamespace(tx, input.integration);
    const stored = await findStoredRow(tx, input.integration, input.key);
    const live = stored && !stored.expired ? stored : undefined;
    const current = live?.version ?? 0;
    if (input.ifVersion !== undefined && input.ifVersion !== current) {
      throw versionConflict(input.key, current, input.ifVersion);
    }
    await requireRoom(tx, input, stored?.sizeBytes);
    return upsertEntry(tx, {
      integration: input.integration,
      key: input.key,
      value: input.value,
      sizeBytes: input.sizeBytes,
      version: current + 1,
      ttlSeconds: input.ttlSeconds,
    });
  });
}

/**
 * The namespace's bounds after this write: KV_MAX_KEYS rows and KV_MAX_TOTAL_BYTES of values,
 * expired rows counted (they hold space until pruned). Over either, its expired rows are pruned
 * and the count taken again; still over, the write is refused and nothing changes.
 */
async function requireRoom(
  tx: Sql,
  input: PutInput,
  storedSize: number | undefined,
): Promise<void> {
  const after = async () => {
    const usage = await namespaceUsage(tx, input.integration);
    return {
      keys: usage.keys + (storedSize === undefined ? 1 : 0),
      bytes: usage.bytes - (storedSize ?? 0) + input.sizeBytes,
    };
  };
  const fits = (u: { keys: number; bytes: number }) =>
    u.keys <= KV_MAX_KEYS && u.bytes <= KV_MAX_TOTAL_BYTES;
  let usage = await after();
  if (fits(usage)) return;
  if ((await deleteExpiredOf(tx, input.integration, PRUNE_ON_WRITE)) > 0) {
    // The pruned row may be this key's own expired row: it is then a new row again.
    const stillStored = await findStoredRow(tx, input.integration, input.key);
    storedSize = stillStored?.sizeBytes;
    usage = await after();
    if (fits(usage)) return;
  }
  const field = usage.keys > KV_MAX_KEYS ? 'keys' : 'bytes';
  throw new SwitchboardError(
    'kv_quota_exceeded',
    field === 'keys'
      ? `integration ${input.integration} has ${KV_MAX_KEYS} keys, the most one namespace may hold: delete some first`
      : `integration ${input.integration}'s values would take ${usage.bytes} bytes, over the ${KV_MAX_TOTAL_BYTES} one namespace may hold`,
    {
      details: {
        integration: input.integration,
        limit: field === 'keys' ? KV_MAX_KEYS : KV_MAX_TOTAL_BYTES,
        bound: field === 'keys' ? 'keys' : 'totalBytes',
      },
    },
  );
}

/**
 * Deletes a live key (at `ifVersion` when given). Absent: not_found; at another version: the
 * conflict with its current version.
 */
export async function removeEntry(
  sql: Pool,
  integration: string,
  key: string,
  ifVersion: number | undefined,
): Promise<number> {
  const deleted = await deleteEntry(sql, integration, key, ifVersion);
  if (deleted !== undefined) return deleted;
  const current = await findEntry(sql, integration, key);
  if (current === undefined) {
    if (ifVersion !== undefined && ifVersion !== 0) throw versionConflict(key, 0, ifVersion);
    throw new SwitchboardError('not_found', `no key ${JSON.stringify(key)}`);
  }
  throw versionConflict(key, current.version, ifVersion ?? current.version);
}
