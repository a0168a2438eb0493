import postgres from 'postgres';
import { SwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { maskUrl } from '../redact.ts';
import type { EmbeddedMemory } from './embedded-memory.ts';
import { guardedSockets, Reachability } from './socket.ts';

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
  /**
   * Load PGlite's pgvector bundle (embedded only): asked for only when embeddings are
   * configured (documents/), so a gateway without them starts exactly as before.
   */
  vector?: boolean;
  /** The embedded database's Postgres memory settings; EMBEDDED_MEMORY_DEFAULTS without. */
  embeddedMemory?: EmbeddedMemory;
}

/** postgres.js and socket codes that mean "the database is not there", not "we have a bug". */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  'CONNECT_TIMEOUT',
]);

export function isDatabaseUnreachable(error: unknown): boolean {
  const code =
    typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && UNREACHABLE.has(code);
}

/**
 * Opens the database and runs one query, so that "database connected" is logged only once it
 * is, and a database that cannot be reached stops boot with its cause rather than later.
 */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const database = await open(options);
  try {
    await database.sql`select 1`;
  } catch (error) {
    await database.close().catch(() => {});
    throw new SwitchboardError(
      'database_unavailable',
      `cannot use the database (${database.description}): ${(error as Error).message}`,
      { cause: error },
    );
  }
  options.log.info({ database: database.description }, 'database connected');
  return database;
}

async function open(options: DatabaseOptions): Promise<Database> {
  const { log } = options;
  if (options.databaseUrl) {
    const description = maskUrl(options.databaseUrl);
    const sql = connect(options.databaseUrl, options.max ?? 10, log, description);
    return {
      sql,
      description,
      embedded: false,
      close: () => sql.end({ timeout: 5 }),
    };
  }
  // Imported here, not at the top: a gateway on PostgreSQL never loads PGlite (~4 MB resident).
  const { startEmbedded } = await import('./embedded.ts');
  const embedded = await startEmbedded(options.dataDir, log, {
    vector: options.vector ?? false,
    ...(options.embeddedMemory && { memory: options.embeddedMemory }),
  });
  const description = `embedded PGlite in ${options.dataDir}`;
  const sql = connect(embedded.url, 1, log, description);
  return {
    sql,
    description,
    embedded: true,
    async close() {
      await sql.end({ timeout: 5 });
      await embedded.stop();
    },
  };
}

/**
 * Every wait for the database is bounded: a connection attempt by connect_timeout (a server
 * that never answers), a server that hangs up mid-handshake by the guarded sockets (socket.ts),
 * and the pause before the next attempt by the backoff's 2 s cap (postgres.js's own grows to
 * 20 s). A request that needs the database while it is away fails within seconds, as a 503
 * (http/errors.ts), and the cause is logged once, not per attempt.
 */
function connect(url: string, max: number, log: Logger, description: string): Pool {
  const options = {
    max,
    // Fail a dead server fast rather than hang boot or /readyz (postgres.js default is 30 s).
    connect_timeout: 5,
    backoff: (retries: number) => (0.5 + Math.random() / 2) * Math.min(3 ** retries / 100, 2),
    // postgres.js reads `socket` (a factory of connected sockets); its types leave it out.
    socket: guardedSockets(new Reachability(log, description)),
    idle_timeout: 0,
    connection: { application_name: 'switchboard' },
    onnotice: (notice: postgres.Notice) => log.debug({ notice: notice.message }, 'postgres notice'),
  };
  return postgres(url, options);
}
