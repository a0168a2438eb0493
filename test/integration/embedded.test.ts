import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../gateway/src/db/connect.ts';
import { readMigrations } from '../../gateway/src/db/migrate.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { pgliteDataDir } from '../helpers/database.ts';
import { runSwitchboard } from '../helpers/gateway.ts';

// Always the embedded database, whatever DATABASE_URL the run has: this is its own behaviour.
describe('embedded database (PGlite in SWITCHBOARD_DATA_DIR)', () => {
  const dataDir = pgliteDataDir();
  const env = { SWITCHBOARD_DATA_DIR: dataDir, USER: 'tester' };
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('keeps data written by one process for the next', async () => {
    const created = await runSwitchboard(
      ['keys', 'create', '--name', 'persisted', '--scopes', 'keys:read', '--json'],
      env,
    );
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const { key, apiKey } = JSON.parse(created.stdout) as {
      key: string;
      apiKey: { prefix: string };
    };
    expect(key.startsWith(apiKey.prefix)).toBe(true);

    const listed = await runSwitchboard(['keys', 'list', '--json'], env);
    expect(listed.code).toBe(0);
    const { keys } = JSON.parse(listed.stdout) as {
      keys: Array<{ name: string; createdBy: string }>;
    };
    expect(keys).toMatchObject([{ name: 'persisted', createdBy: 'cli:tester' }]);

    const revoked = await runSwitchboard(['keys', 'revoke', apiKey.prefix], env);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`revoked API key 1 (${apiKey.prefix}…) "persisted"`);
    const after = await runSwitchboard(['keys', 'list', '--all'], env);
    expect(after.stdout).toMatch(/persisted .* cli .* \d{4}-\d\d-\d\dT/);
    expect((await runSwitchboard(['keys', 'list'], env)).stdout).not.toContain('persisted');
  });

  it('prints a created key on stdout alone, and its description on stderr', async () => {
    const r = await runSwitchboard(['keys', 'create', '--name', 'plain', '--scopes', '*'], env);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^sbk_[A-Za-z0-9_-]{43}$/);
    expect(r.stderr).toContain('it is not shown again');
  });

  it('migrate reports an up-to-date database', async () => {
    const r = await runSwitchboard(['migrate'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`database is up to date (${readMigrations().length} migrations)\n`);
  });

  it('refuses a second process while one holds the data dir', async () => {
    const log = createLogger('silent');
    const db = await openDatabase({ databaseUrl: undefined, dataDir, log });
    try {
      const r = await runSwitchboard(['keys', 'list'], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `the embedded database in ${dataDir} is in use by process ${process.pid}`,
      );
    } finally {
      await db.close();
    }
    expect((await runSwitchboard(['keys', 'list'], env)).code).toBe(0);
  });

  it('takes over a lock left by a process that died', async () => {
    fs.writeFileSync(`${dataDir}/pglite.lock`, '999999999');
    const r = await runSwitchboard(['keys', 'list'], env);
    expect(r.code).toBe(0);
    expect(fs.existsSync(`${dataDir}/pglite.lock`)).toBe(false);
  });

  it('runs Postgres with the memory settings it is given, and the small defaults without', async () => {
    const log = createLogger('silent');
    const show = async (db: Awaited<ReturnType<typeof openDatabase>>) =>
      (
        await db.sql<Array<{ name: string; value: string }>>`
          select name, current_setting(name) as value from pg_settings
          where name in ('shared_buffers', 'work_mem', 'maintenance_work_mem') order by name`
      ).map((r) => `${r.name}=${r.value}`);
    const defaults = await openDatabase({ databaseUrl: undefined, dataDir, log });
    try {
      // Postgres's own defaults are 64MB, 128MB and 4MB.
      expect(await show(defaults)).toEqual([
        'maintenance_work_mem=16MB',
        'shared_buffers=16MB',
        'work_mem=4MB',
      ]);
    } finally {
      await defaults.close();
    }
    const given = await openDatabase({
      databaseUrl: undefined,
      dataDir,
      log,
      embeddedMemory: { sharedBuffersKb: 8192, workMemKb: 1024, maintenanceWorkMemKb: 2048 },
    });
    try {
      expect(await show(given)).toEqual([
        'maintenance_work_mem=2MB',
        'shared_buffers=8MB',
        'work_mem=1MB',
      ]);
    } finally {
      await given.close();
    }
  });
});
