import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A closed, freshly initialised PGlite data dir to copy (initdb once, not per test). */
    pgliteTemplate: string;
    /** DATABASE_URL of the run, if the integration suite targets a real Postgres. */
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-template-'));
  const pgdata = path.join(root, 'pgdata');
  const db = await PGlite.create(pgdata);
  await db.close();
  project.provide('pgliteTemplate', pgdata);
  project.provide('databaseUrl', process.env.DATABASE_URL ?? '');
  const target = process.env.DATABASE_URL
    ? `Postgres at ${new URL(process.env.DATABASE_URL).host}`
    : 'embedded PGlite';
  console.log(`integration tests run against ${target}`);
  return () => fs.rmSync(root, { recursive: true, force: true });
}
