import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../gateway/src/db/connect.ts';
import { migrate, migrationStatus, readMigrations } from '../../gateway/src/db/migrate.ts';
import { SwitchboardError } from '../../gateway/src/errors.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { type TestDatabase, testDatabase, usingPostgres } from '../helpers/database.ts';

const log = createLogger('silent');
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function freshDatabase(): Promise<{ test: TestDatabase; db: Database }> {
  const test = await testDatabase();
  const db = await openDatabase({
    databaseUrl: test.env.DATABASE_URL,
    dataDir: test.env.SWITCHBOARD_DATA_DIR,
    log,
  });
  cleanups.push(test.cleanup, () => db.close());
  return { test, db };
}

function migrationsDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-migrations-'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

const THREE = {
  '0001_counter.sql': 'create table applied_log (name text not null);',
  // pg_sleep widens the window in which a second migrator could slip in.
  '0002_slow.sql': "select pg_sleep(0.3); insert into applied_log values ('0002');",
  '0003_more.sql': "create table more (id int); insert into applied_log values ('0003');",
};

async function rejection(promise: Promise<unknown>): Promise<SwitchboardError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SwitchboardError);
  expect((error as SwitchboardError).code).toBe('migration_failed');
  return error as SwitchboardError;
}

describe('migrations', () => {
  it('apply the shipped migrations once and record their checksums', async () => {
    const { db } = await freshDatabase();
    expect(await migrate(db.sql, log)).toEqual([
      '0001_init.sql',
      '0002_queue.sql',
      '0003_task_result.sql',
      '0004_events_out.sql',
      '0005_drop_superseded_indexes.sql',
      '0006_webhook_body_hash.sql',
      '0007_retention.sql',
      '0008_profile_secrets.sql',
      '0009_task_budgets.sql',
      '0010_tool_pins.sql',
      '0011_approvals.sql',
      '0012_console_sessions.sql',
      '0013_trace_context.sql',
      '0014_kv.sql',
      '0015_documents.sql',
      '0016_event_hooks.sql',
      '0017_mcp_tasks.sql',
      '0018_era2025_clients.sql',
      '0019_rate_buckets.sql',
      '0020_mcp_task_upstream.sql',
      '0021_egress.sql',
    ]);
    expect(await migrate(db.sql, log)).toEqual([]);
    const [row] = await db.sql`select name, checksum from switchboard_migrations order by id`;
    expect(row).toEqual({ name: '0001_init.sql', checksum: readMigrations()[0]?.checksum });
    const tables = await db.sql<{ name: string }[]>`
      select table_name as name from information_schema.tables
      where table_schema = current_schema() order by 1`;
    expect(tables.map((t) => t.name)).toEqual([
      'api_keys',
      'approvals',
      'audit_log',
      'client_reply_waits',
      'console_sessions',
      'documents',
      'egress_connections',
      'era2025_handshakes',
      'event_hooks',
      'event_subscriptions',
      'kv_entries',
      'mcp_tasks',
      'messages',
      'outbox',
      'profile_secrets',
      'rate_buckets',
      'schedule_runs',
      'sessions',
      'settings',
      'signing_keys',
      'switchboard_migrations',
      'task_budgets',
      'task_events',
      'tasks',
      'tokens',
      'tool_pins',
      'webhook_deliveries',
    ]);
  });

  it('started twice at once apply each migration exactly once', async () => {
    const { test, db } = await freshDatabase();
    // On Postgres the two migrators are separate pools, as two replicas would be. The embedded
    // database admits one process (the data-dir lock, tested in embedded.test.ts) with one
    // connection, so there the two share it, as two boot paths in one process would.
    let other = db;
    if (usingPostgres) {
      other = await openDatabase({ databaseUrl: test.env.DATABASE_URL, dataDir: '', log });
      cleanups.push(() => other.close());
    }
    const migrations = readMigrations(migrationsDir(THREE));
    const [a, b] = await Promise.all([
      migrate(db.sql, log, migrations),
      migrate(other.sql, log, migrations),
    ]);
    expect([...a, ...b].sort()).toEqual(['0001_counter.sql', '0002_slow.sql', '0003_more.sql']);
    const logRows = await db.sql`select name from applied_log order by name`;
    expect(logRows.map((r) => r.name)).toEqual(['0002', '0003']);
    expect((await db.sql`select id from switchboard_migrations`).length).toBe(3);
  });

  it('refuse an edited migration and apply nothing after it', async () => {
    const { db } = await freshDatabase();
    const dir = migrationsDir({ '0001_counter.sql': THREE['0001_counter.sql'] });
    await migrate(db.sql, log, readMigrations(dir));
    fs.appendFileSync(path.join(dir, '0001_counter.sql'), '\n-- tweak');
    fs.writeFileSync(path.join(dir, '0002_more.sql'), 'create table more (id int);');
    const error = await rejection(migrate(db.sql, log, readMigrations(dir)));
    expect(error.message).toMatch(/migration 0001_counter\.sql was edited after it was applied/);
    expect(await db.sql`select to_regclass('more') as t`).toEqual([{ t: null }]);
    await rejection(migrationStatus(db.sql, readMigrations(dir)));
  });

  it('refuse a database that is ahead of the build', async () => {
    const { db } = await freshDatabase();
    await migrate(db.sql, log, readMigrations(migrationsDir(THREE)));
    const older = migrationsDir({
      '0001_counter.sql': THREE['0001_counter.sql'],
      '0002_slow.sql': THREE['0002_slow.sql'],
    });
    const error = await rejection(migrate(db.sql, log, readMigrations(older)));
    expect(error.message).toContain(
      'the database has migration 0003_more.sql (number 3) but this build only knows up to 0002_slow.sql',
    );
  });

  it('roll back a failed migration whole and name it', async () => {
    const { db } = await freshDatabase();
    const dir = migrationsDir({
      '0001_counter.sql': THREE['0001_counter.sql'],
      '0002_broken.sql':
        "create table half (id int); insert into applied_log values ('0002'); select 1 / 0;",
    });
    const error = await rejection(migrate(db.sql, log, readMigrations(dir)));
    expect(error.message).toBe(
      'migration 0002_broken.sql failed and was rolled back: division by zero',
    );
    expect(await db.sql`select to_regclass('half') as t`).toEqual([{ t: null }]);
    expect(await db.sql`select count(*)::int as n from applied_log`).toEqual([{ n: 0 }]);
    expect(await db.sql`select name from switchboard_migrations`).toEqual([
      { name: '0001_counter.sql' },
    ]);
    expect(await migrationStatus(db.sql, readMigrations(dir))).toEqual({ applied: 1, latest: 2 });
  });
});
