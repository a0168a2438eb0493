import postgres from 'postgres';
import type { Logger } from '../log.ts';
import { maskUrl } from '../redact.ts';
import { startEmbedded } from './embedded.ts';

/** A pool: runs queries and opens transactions (`begin`). */
export type Pool = postgres.Sql;
/** Anything that runs queries: a pool or an open transaction. Store functions take this. */
export type Sql = postgres.ISql;

/**
 * One handle to the database, whichever it is: postgres.js over a real server when
 * `databaseUrl` is set, otherwise over the embedded PGlite in `dataDir`. Callers only see `sql`.
 */
export interface Database {
  sql: Pool;
  /** Where it lives, safe for logs (password masked). */
  description: string;
  /** The in-process PGlite: one process, and no LISTEN/NOTIFY across processes. */
  embedded: boolean;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl: string | undefined;
  dataDir: string;
  log: Logger;
  /** Pool size for a real server; the embedded database always uses one connection. */
  max?: number;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const { log } = options;
  if (options.databaseUrl) {
    const sql = connect(options.databaseUrl, options.max ?? 10, log);
    return {
      sql,
      description: maskUrl(options.databaseUrl),
      embedded: false,
      close: () => sql.end({ timeout: 5 }),
    };
  }
  const embedded = await startEmbedded(options.dataDir, log);
  const sql = connect(embedded.url, 1, log);
  return {
    sql,
    description: `embedded PGlite in ${options.dataDir}`,
    embedded: true,
    async close() {
      await sql.end({ timeout: 5 });
      await embedded.stop();
    },
  };
}

function connect(url: string, max: number, log: Logger): Pool {
  return postgres(url, {
    max,
    // Fail a dead server fast rather than hang boot or /readyz (postgres.js default is 30 s).
    connect_timeout: 5,
    idle_timeout: 0,
    connection: { application_name: 'switchboard' },
    onnotice: (notice) => log.debug({ notice: notice.message }, 'postgres notice'),
  });
}
