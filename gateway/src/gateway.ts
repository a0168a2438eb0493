import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Config, publicUrlFor } from './config.ts';
import { type Database, openDatabase, type Pool } from './db/connect.ts';
import { migrate, readMigrations } from './db/migrate.ts';
import { createApp } from './http/app.ts';
import type { Lifecycle } from './http/health.ts';
import { createMetrics } from './http/metrics.ts';
import { envKeyPrefix, hashApiKey } from './keys/format.ts';
import { syncEnvAdminKey } from './keys/store.ts';
import type { Logger } from './log.ts';
import { createShutdown, type Shutdown } from './shutdown.ts';

export interface Gateway {
  /** The public base URL (SWITCHBOARD_PUBLIC_URL, or http://HOST:<bound port>). */
  url: string;
  port: number;
  sql: Pool;
  shutdown: Shutdown;
}

/** Boot order: database → migrations → bootstrap key → HTTP. Anything failing undoes the rest. */
export async function startGateway(config: Config, log: Logger): Promise<Gateway> {
  const migrations = readMigrations();
  const db: Database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    log,
  });
  try {
    log.info({ database: db.description }, 'database connected');
    await migrate(db.sql, log, migrations);
    if (config.adminKey) {
      await syncEnvAdminKey(db.sql, {
        prefix: envKeyPrefix(config.adminKey),
        hash: hashApiKey(config.adminKey),
      });
    }
    const lifecycle: Lifecycle = { shuttingDown: false };
    const app = createApp({
      sql: db.sql,
      log,
      metrics: createMetrics(),
      migrations,
      lifecycle,
    });
    const server = http.createServer(app);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const url = publicUrlFor(config, port);
    const shutdown = createShutdown({
      server,
      lifecycle,
      log,
      deadlineMs: config.shutdownTimeoutMs,
      resources: [{ name: 'database', close: () => db.close() }],
    });
    log.info({ url, listen: `${config.host}:${port}` }, 'switchboard gateway listening');
    return { url, port, sql: db.sql, shutdown };
  } catch (error) {
    await db.close().catch(() => {});
    throw error;
  }
}
