import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Pool, Sql } from './connect.ts';

/**
 * Forward-only migrations: `migrations/NNNN_name.sql`, numbered from 0001 without gaps, each
 * applied in its own transaction together with its row in `switchboard_migrations` (id, name,
 * sha256 checksum). Every transaction first takes one advisory lock, so replicas starting at
 * once apply each migration exactly once; the loser waits, then finds it done. A database that
 * knows a migration this build does not, or whose recorded checksum differs from the file (an
 * edited migration), is refused before anything is applied.
 */

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/', import.meta.url));

/** pg_advisory_xact_lock key: "sw" "mi" "gr" in ASCII, just a number no one else uses. */
const LOCK_KEY = 0x73776d6967n;

export interface Migration {
  id: number;
  name: string;
  checksum: string;
  text: string;
}

export function migrationError(message: string, cause?: unknown): SwitchboardError {
  return new SwitchboardError('migration_failed', message, { cause });
}

export function readMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const migrations = files.map((file) => {
    const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!match) {
      throw migrationError(
        `${path.join(dir, file)}: expected a name like 0002_add_outbox.sql (4 digits, _, lowercase words)`,
      );
    }
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    return {
      id: Number(match[1]),
      name: file,
      checksum: createHash('sha256').update(text).digest('hex'),
      text,
    };
  });
  migrations.forEach((m, i) => {
    if (m.id !== i + 1) {
      throw migrationError(
        `${path.join(dir, m.name)}: expected migration number ${String(i + 1).padStart(4, '0')} (numbers start at 0001 and have no gaps or repeats)`,
      );
    }
  });
  return migrations;
}

interface AppliedRow {
  id: number;
  name: string;
  checksum: string;
}

/** Throws unless every applied migration is one of ours, unchanged. */
function verifyApplied(applied: AppliedRow[], migrations: Migration[]): void {
  for (const row of applied) {
    const known = migrations[row.id - 1];
    if (!known) {
      throw migrationError(
        `the database has migration ${row.name} (number ${row.id}) but this build only knows up to ` +
          `${migrations.at(-1)?.name ?? 'none'}: the database is ahead of this build. ` +
          'Run a newer Switchboard against it; never roll the database back by hand.',
      );
    }
    if (known.checksum !== row.checksum) {
      throw migrationError(
        `migration ${known.name} was edited after it was applied (recorded sha256 ${row.checksum.slice(0, 12)}…, ` +
          `file has ${known.checksum.slice(0, 12)}…). Landed migrations are never edited: restore the file ` +
          'and put the change in a new migration.',
      );
    }
  }
}

async function ensureTable(tx: Sql): Promise<void> {
  await tx`
    create table if not exists switchboard_migrations (
      id integer primary key,
      name text not null,
      checksum text not null,
      applied_at timestamptz not null default now()
    )`;
}

/** Apply what is pending; returns the names applied by this call (not by a concurrent one). */
export async function migrate(
  sql: Pool,
  log: Logger,
  migrations: Migration[] = readMigrations(),
): Promise<string[]> {
  const appliedNow: string[] = [];
  for (;;) {
    const next = await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${LOCK_KEY.toString()}::bigint)`;
      await ensureTable(tx);
      const applied = await tx<AppliedRow[]>`
        select id, name, checksum from switchboard_migrations order by id`;
      verifyApplied(applied, migrations);
      const done = new Set(applied.map((row) => row.id));
      const pending = migrations.find((m) => !done.has(m.id));
      if (!pending) return undefined;
      const started = Date.now();
      try {
        await tx.unsafe(pending.text);
      } catch (error) {
        throw migrationError(
          `migration ${pending.name} failed and was rolled back: ${(error as Error).message}`,
          error,
        );
      }
      await tx`
        insert into switchboard_migrations (id, name, checksum)
        values (${pending.id}, ${pending.name}, ${pending.checksum})`;
      log.info({ migration: pending.name, ms: Date.now() - started }, 'migration applied');
      return pending.name;
    });
    if (next === undefined) return appliedNow;
    appliedNow.push(next);
  }
}

export interface MigrationStatus {
  applied: number;
  latest: number;
}

/** The applied count against this build's latest, for /readyz; throws if the DB is unusable. */
export async function migrationStatus(
  sql: Sql,
  migrations: Migration[] = readMigrations(),
): Promise<MigrationStatus> {
  const [row] = await sql<{ table: string | null }[]>`
    select to_regclass('switchboard_migrations')::text as table`;
  if (!row?.table) return { applied: 0, latest: migrations.length };
  const applied = await sql<AppliedRow[]>`
    select id, name, checksum from switchboard_migrations order by id`;
  verifyApplied(applied, migrations);
  return { applied: applied.length, latest: migrations.length };
}
