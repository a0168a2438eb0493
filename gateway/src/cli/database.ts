import { loadConfig } from '../config.ts';
import { openDatabase, type Pool } from '../db/connect.ts';
import { migrate } from '../db/migrate.ts';
import { type Logger, stderrLogger } from '../log.ts';
import type { CliContext } from './command.ts';

/**
 * Opens the configured database for a one-shot command, migrated (so `keys create` works on a
 * fresh install before the first `start`), and closes it afterwards. Logs go to stderr at
 * `warn` unless LOG_LEVEL says otherwise, so stdout carries only the command's answer.
 */
export async function withDatabase<T>(
  ctx: CliContext,
  fn: (sql: Pool, log: Logger) => Promise<T>,
  options: { migrate: boolean } = { migrate: true },
): Promise<T> {
  const config = loadConfig(ctx.env);
  const log = stderrLogger(ctx.env.LOG_LEVEL ? config.logLevel : 'warn', config.logFormat);
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    log,
    embeddedMemory: config.embeddedMemory,
  });
  try {
    if (options.migrate) await migrate(db.sql, log);
    return await fn(db.sql, log);
  } finally {
    await db.close();
  }
}

export function cliActor(env: NodeJS.ProcessEnv): string {
  return `cli:${env.USER ?? env.LOGNAME ?? 'unknown'}`;
}
