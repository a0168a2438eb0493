import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import postgres from 'postgres';
import { afterAll, beforeAll, inject } from 'vitest';
import { type Database, openDatabase } from '../../gateway/src/db/connect.ts';
import { migrate } from '../../gateway/src/db/migrate.ts';
import { createLogger } from '../../gateway/src/log.ts';

/** True when this run targets a real Postgres server (DATABASE_URL), false for embedded PGlite. */
export const usingPostgres = inject('databaseUrl') !== '';

export interface TestDatabase {
  /** The environment a gateway or CLI needs to use this database. */
  env: { DATABASE_URL?: string; SWITCHBOARD_DATA_DIR: string };
  cleanup(): Promise<void>;
}

/** A copy of the initdb'd template, so each test skips PGlite's 3–7 s initdb. */
export function pgliteDataDir(): string {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-test-'));
  fs.cpSync(inject('pgliteTemplate'), path.join(dataDir, 'pgdata'), { recursive: true });
  return dataDir;
}

async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = inject('databaseUrl');
  const name = `switchboard_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const sql = postgres(base, { max: 1, onnotice: () => {} });
      await sql.unsafe(`drop database if exists ${name} with (force)`);
      await sql.end();
    },
  };
}

/**
 * A fresh, empty database. With DATABASE_URL: a new database on that server. Without: a data dir
 * for the gateway's own embedded PGlite, so the production embedded path is what gets tested.
 */
export async function testDatabase(): Promise<TestDatabase> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-test-'));
  if (usingPostgres) {
    const db = await createPostgresDatabase();
    return {
      env: { DATABASE_URL: db.url, SWITCHBOARD_DATA_DIR: dataDir },
      async cleanup() {
        await db.drop();
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  fs.rmSync(dataDir, { recursive: true });
  const copy = pgliteDataDir();
  return {
    env: { SWITCHBOARD_DATA_DIR: copy },
    async cleanup() {
      fs.rmSync(copy, { recursive: true, force: true });
    },
  };
}

/**
 * A database reachable by URL, for tests that must stand between the gateway and its database
 * (a proxy that cuts the connection). Without DATABASE_URL it is a PGlite served by the test
 * process itself, multiplexing several connections.
 */
export async function testDatabaseServer(): Promise<{ url: string; cleanup(): Promise<void> }> {
  if (usingPostgres) {
    const db = await createPostgresDatabase();
    return { url: db.url, cleanup: () => db.drop() };
  }
  const dataDir = pgliteDataDir();
  const pg = await PGlite.create(path.join(dataDir, 'pgdata'));
  const server = new PGLiteSocketServer({ db: pg, host: '127.0.0.1', port: 0, maxConnections: 16 });
  await server.start();
  return {
    url: `postgres://postgres@${server.getServerConn()}/postgres`,
    async cleanup() {
      await server.stop();
      await pg.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A fresh, migrated database for a describe block; the getter works once beforeAll has run. */
export function useMigratedDatabase(): () => Database {
  const log = createLogger('silent');
  let test: TestDatabase | undefined;
  let db: Database | undefined;
  beforeAll(async () => {
    test = await testDatabase();
    db = await openDatabase({
      databaseUrl: test.env.DATABASE_URL,
      dataDir: test.env.SWITCHBOARD_DATA_DIR,
      log,
    });
    await migrate(db.sql, log);
  });
  afterAll(async () => {
    await db?.close();
    await test?.cleanup();
  });
  return () => {
    if (!db) throw new Error('useMigratedDatabase: not open yet');
    return db;
  };
}
