import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { isProcessAlive } from '../containment/process-group.ts';
import { SwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import {
  EMBEDDED_MEMORY_DEFAULTS,
  type EmbeddedMemory,
  memoryStartParams,
} from './embedded-memory.ts';

/**
 * The embedded database: PGlite (Postgres 18 compiled to WASM) persisted in the data dir and
 * served on a loopback port so postgres.js can talk to it like to any Postgres. PGlite is one
 * session, so the socket server takes one connection and the caller must use a pool of one.
 * Two processes opening the same data dir would corrupt it, hence the pid lock file.
 */
export interface EmbeddedServer {
  /** postgres:// URL of the loopback socket server. */
  url: string;
  stop(): Promise<void>;
}

export async function startEmbedded(
  dataDir: string,
  log: Logger,
  options: { vector?: boolean; memory?: EmbeddedMemory } = {},
): Promise<EmbeddedServer> {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const releaseLock = acquireLock(path.join(dataDir, 'pglite.lock'));
  try {
    const pgdata = path.join(dataDir, 'pgdata');
    const fresh = !fs.existsSync(path.join(pgdata, 'PG_VERSION'));
    if (fresh) {
      // initdb inside WASM takes 3–7 s on a 2-core machine; say so rather than look hung.
      log.info({ pgdata }, 'creating the embedded database (first start takes a few seconds)');
      await createInChild(pgdata);
    }
    const started = Date.now();
    // pgvector is a separate 52 KB bundle, imported and unpacked only when asked for (embeddings
    // configured): `create extension vector` then works, and nothing changes for anyone else.
    const extensions = options.vector
      ? { vector: (await import('@electric-sql/pglite-pgvector')).vector }
      : undefined;
    const startParams = [
      ...PGlite.defaultStartParams,
      ...memoryStartParams(options.memory ?? EMBEDDED_MEMORY_DEFAULTS),
    ];
    const db = await PGlite.create(pgdata, { startParams, ...(extensions && { extensions }) });
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 1 });
    await server.start();
    log.info(
      { pgdata, ms: Date.now() - started, listen: server.getServerConn() },
      'embedded database ready',
    );
    return {
      url: `postgres://postgres@${server.getServerConn()}/postgres`,
      async stop() {
        await server.stop();
        await db.close();
        releaseLock();
      },
    };
  } catch (error) {
    releaseLock();
    throw error;
  }
}

/**
 * initdb in a process of its own. PGlite creates a database with two more WASM instances (an
 * initdb and a second Postgres) and a tarball of the new data dir in memory: 830 MB resident at
 * the peak, and 126 MB more than a start on an existing data dir still resident after the
 * garbage collector has run (measured on a 2-core machine, issue 20). In a child they leave with
 * it, and the gateway then opens the data dir as on any later start.
 */
async function createInChild(pgdata: string): Promise<void> {
  const pglite = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const script =
    'require(process.argv[1]).PGlite.create(process.argv[2]).then((db) => db.close())' +
    '.catch((error) => { console.error(error); process.exit(1); })';
  const child = spawn(process.execPath, ['-e', script, pglite, pgdata], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-2000);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (exitCode) => resolve(exitCode));
  });
  if (code !== 0) {
    throw new SwitchboardError(
      'database_unavailable',
      `could not create the embedded database in ${pgdata} (exit ${code}): ${stderr.trim()}`,
    );
  }
}

/** Create `file` exclusively with our pid; a lock left by a dead process is taken over. */
function acquireLock(file: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx', 0o600);
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return () => fs.rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(fs.readFileSync(file, 'utf8').trim());
      if (
        Number.isInteger(holder) &&
        holder > 0 &&
        holder !== process.pid &&
        isProcessAlive(holder)
      ) {
        throw new SwitchboardError(
          'database_in_use',
          `the embedded database in ${path.dirname(file)} is in use by process ${holder} ` +
            '(a running gateway?). Stop it first, use the HTTP API of the running gateway, ' +
            'or set DATABASE_URL to a Postgres server that several processes can share.',
        );
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new SwitchboardError('database_in_use', `could not take the lock ${file}`);
}
