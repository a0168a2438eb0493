import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Config, publicUrlFor } from './config.ts';
import { type Database, openDatabase, type Pool } from './db/connect.ts';
import { migrate, readMigrations } from './db/migrate.ts';
import { InProcessBus, PostgresBus } from './events/bus.ts';
import { createApp } from './http/app.ts';
import type { Lifecycle } from './http/health.ts';
import { createMetrics } from './http/metrics.ts';
import { IntegrationRegistry } from './integrations/registry.ts';
import { envKeyPrefix, hashApiKey } from './keys/format.ts';
import { syncEnvAdminKey } from './keys/store.ts';
import type { Logger } from './log.ts';
import { loadMasterKey } from './secrets/master-key.ts';
import { createShutdown, type Shutdown } from './shutdown.ts';
import { TokenService } from './tokens/service.ts';

export interface Gateway {
  /** The public base URL (SWITCHBOARD_PUBLIC_URL, or http://HOST:<bound port>). */
  url: string;
  port: number;
  sql: Pool;
  shutdown: Shutdown;
  registry: IntegrationRegistry;
  tokens: TokenService;
}

/**
 * Boot order: database → migrations → bootstrap key → HTTP → integrations. Anything failing
 * undoes the rest; an integration that fails only marks itself.
 */
export async function startGateway(
  config: Config,
  log: Logger,
  /** Settings resolve from it by their declared names; nothing else of it reaches integrations. */
  env: NodeJS.ProcessEnv = process.env,
): Promise<Gateway> {
  const migrations = readMigrations();
  const db: Database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    log,
  });
  let registry: IntegrationRegistry | undefined;
  let listening: http.Server | undefined;
  let tokens: TokenService | undefined;
  try {
    log.info({ database: db.description }, 'database connected');
    await migrate(db.sql, log, migrations);
    if (config.adminKey) {
      await syncEnvAdminKey(db.sql, {
        prefix: envKeyPrefix(config.adminKey),
        hash: hashApiKey(config.adminKey),
      });
    }
    const masterKey = loadMasterKey(config.masterKey, config.dataDir, log);
    let url = '';
    const integrations = new IntegrationRegistry({
      sql: db.sql,
      log,
      config,
      masterKey,
      env,
      gatewayUrl: () => url,
    });
    registry = integrations;
    const bus = db.embedded ? new InProcessBus() : new PostgresBus(db.sql, log);
    tokens = await TokenService.start({ sql: db.sql, masterKey, bus, log, issuer: () => url });
    const lifecycle: Lifecycle = { shuttingDown: false };
    const app = createApp({
      sql: db.sql,
      log,
      metrics: createMetrics(),
      migrations,
      lifecycle,
      registry: integrations,
      masterKey,
      tokens,
      publicUrl: () => url,
    });
    const server = http.createServer(app);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    listening = server;
    const port = (server.address() as AddressInfo).port;
    url = publicUrlFor(config, port);
    // After listen: background processes are told the gateway's URL, and with PORT=0 it is
    // known only now. Judging takes milliseconds; servers start in the background.
    await integrations.loadAll();
    const tokenService = tokens;
    const shutdown = createShutdown({
      server,
      lifecycle,
      log,
      deadlineMs: config.shutdownTimeoutMs,
      resources: [
        { name: 'integrations', close: () => integrations.stopAll() },
        { name: 'tokens', close: () => tokenService.close() },
        { name: 'database', close: () => db.close() },
      ],
    });
    log.info({ url, listen: `${config.host}:${port}` }, 'switchboard gateway listening');
    return { url, port, sql: db.sql, shutdown, registry: integrations, tokens: tokenService };
  } catch (error) {
    await registry?.stopAll().catch(() => {});
    await tokens?.close().catch(() => {});
    listening?.closeAllConnections();
    await new Promise((resolve) => (listening ? listening.close(resolve) : resolve(undefined)));
    await db.close().catch(() => {});
    throw error;
  }
}
