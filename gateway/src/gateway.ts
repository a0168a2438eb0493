import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { OpenStreams } from './api/streams.ts';
import { type Config, publicUrlFor } from './config.ts';
import { type Database, openDatabase, type Pool } from './db/connect.ts';
import { migrate, readMigrations } from './db/migrate.ts';
import { createPostWebhook } from './dispatch/post-webhook.ts';
import { OutboxWorker } from './dispatch/worker.ts';
import { InProcessBus, PostgresBus } from './events/bus.ts';
import {
  type PublishTaskEvents,
  TaskEventWaker,
  taskEventPublisher,
} from './events/task-events.ts';
import { createApp } from './http/app.ts';
import type { Lifecycle } from './http/health.ts';
import { createMetrics } from './http/metrics.ts';
import { IntegrationRegistry } from './integrations/registry.ts';
import { envKeyPrefix, hashApiKey } from './keys/format.ts';
import { syncEnvAdminKey } from './keys/store.ts';
import type { Logger } from './log.ts';
import { createMcpEndpoint, type McpEndpoint } from './mcp/endpoint.ts';
import { createTaskToolsEndpoint } from './mcp/task-tools.ts';
import { refuseDevelopmentDefaults } from './production-mode.ts';
import { RetentionJob } from './retention/job.ts';
import { Scheduler } from './schedules/scheduler.ts';
import { loadMasterKey } from './secrets/master-key.ts';
import { createShutdown, type Shutdown } from './shutdown.ts';
import { ToolEventSink } from './tasks/tool-events.ts';
import { TaskWorker } from './tasks/worker.ts';
import { TokenService } from './tokens/service.ts';
import { DeliveryWorker } from './webhooks/worker.ts';

export interface Gateway {
  /** The public base URL (SWITCHBOARD_PUBLIC_URL, or http://HOST:<bound port>). */
  url: string;
  port: number;
  sql: Pool;
  shutdown: Shutdown;
  registry: IntegrationRegistry;
  tokens: TokenService;
  /** Announces committed task events to every process (the worker, SSE streams). */
  publishTaskEvents: PublishTaskEvents;
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
  refuseDevelopmentDefaults(config);
  const migrations = readMigrations();
  const db: Database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    log,
  });
  let registry: IntegrationRegistry | undefined;
  let listening: http.Server | undefined;
  let tokens: TokenService | undefined;
  let mcpEndpoint: McpEndpoint | undefined;
  let worker: TaskWorker | undefined;
  let deliveries: DeliveryWorker | undefined;
  let outbox: OutboxWorker | undefined;
  let scheduler: Scheduler | undefined;
  let retention: RetentionJob | undefined;
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
    const bus = db.embedded ? new InProcessBus() : new PostgresBus(db.sql, log);
    const signer = await TokenService.start({
      sql: db.sql,
      masterKey,
      bus,
      log,
      issuer: () => url,
    });
    tokens = signer;
    const owner = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const integrations = new IntegrationRegistry({
      sql: db.sql,
      log,
      config,
      masterKey,
      env,
      gatewayUrl: () => url,
      gatewayToken: (integration) => signer.mintGateway(integration),
      instance: owner,
    });
    registry = integrations;
    const lifecycle: Lifecycle = { shuttingDown: false };
    const metrics = createMetrics();
    const toolEvents = new ToolEventSink(db.sql, log, metrics.registry);
    const mcp = createMcpEndpoint({
      registry: integrations,
      log,
      upstreamToken: (integration, grant, tools) => signer.mintUpstream(integration, grant, tools),
      onToolCall: (event) => toolEvents.record(event),
      includeArguments: (name) =>
        integrations.currentPolicy()?.integrations[name]?.audit?.arguments ?? false,
    });
    mcpEndpoint = mcp;
    const publish = taskEventPublisher(bus, log);
    const taskTools = createTaskToolsEndpoint({
      sql: db.sql,
      log,
      publish,
      flushToolEvents: () => toolEvents.flush(),
    });
    // One waker for the API's SSE streams on the bus the worker publishes on: events of any
    // process reach open streams at once, not by the API's fallback poll.
    const waker = await TaskEventWaker.start(bus, log);
    const streams = new OpenStreams(lifecycle);
    let integrationsLoaded: () => void = () => {};
    const loaded = new Promise<void>((resolve) => {
      integrationsLoaded = resolve;
    });
    const app = createApp({
      sql: db.sql,
      log,
      metrics,
      migrations,
      lifecycle,
      registry: integrations,
      masterKey,
      tokens,
      publicUrl: () => url,
      mcp,
      taskTools,
      taskEvents: { waker, publish },
      streams,
      wakeDeliveries: () => deliveries?.accepted(),
      integrationsLoaded: loaded,
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
    integrationsLoaded();
    const tokenService = tokens;
    const taskWorker = await TaskWorker.start({
      sql: db.sql,
      log,
      registry: integrations,
      tokens: tokenService,
      bus,
      publish,
      publicUrl: () => url,
      owner,
      leaseMs: config.taskLeaseMs,
      hostEnv: env,
      flushToolEvents: () => toolEvents.flush(),
    });
    worker = taskWorker;
    const deliveryWorker = await DeliveryWorker.start({
      sql: db.sql,
      log,
      registry: integrations,
      publish,
    });
    deliveries = deliveryWorker;
    const outboxWorker = await OutboxWorker.start({
      sql: db.sql,
      log,
      registry: integrations,
      bus,
      publish,
      masterKey,
      postWebhook: createPostWebhook(() => integrations.currentPolicy()?.dispatch.allowHosts ?? []),
    });
    outbox = outboxWorker;
    const schedules = await Scheduler.start({
      sql: db.sql,
      log,
      registry: integrations,
      publish,
      owner,
      wakeDeliveries: () => deliveryWorker.wake(),
    });
    scheduler = schedules;
    const retentionJob = RetentionJob.start({
      sql: db.sql,
      log,
      policy: () => integrations.currentPolicy(),
    });
    retention = retentionJob;
    const shutdown = createShutdown({
      server,
      lifecycle,
      log,
      deadlineMs: config.shutdownTimeoutMs,
      resources: [
        { name: 'scheduler', close: () => schedules.close() },
        { name: 'retention job', close: () => retentionJob.close() },
        { name: 'delivery worker', close: () => deliveryWorker.close() },
        { name: 'outbox worker', close: () => outboxWorker.close() },
        { name: 'task worker', close: () => taskWorker.close() },
        { name: 'task tools', close: () => taskTools.close() },
        { name: 'task event streams', close: () => waker.close() },
        { name: 'tool events', close: () => toolEvents.flush() },
        { name: 'integrations', close: () => integrations.stopAll() },
        { name: 'tokens', close: () => tokenService.close() },
        { name: 'database', close: () => db.close() },
      ],
    });
    // MCP GET streams (list_changed) stay open for as long as a client likes: end them first.
    shutdown.onStart(() => void mcp.close());
    shutdown.onStart(() => streams.close());
    // Agents stopped at once: their open MCP requests (ask_user) would hold the server open.
    shutdown.onStart(() => void taskWorker.close());
    shutdown.onStart(() => void schedules.close());
    log.info({ url, listen: `${config.host}:${port}` }, 'switchboard gateway listening');
    return {
      url,
      port,
      sql: db.sql,
      shutdown,
      registry: integrations,
      tokens: tokenService,
      publishTaskEvents: publish,
    };
  } catch (error) {
    await scheduler?.close().catch(() => {});
    await retention?.close().catch(() => {});
    await deliveries?.close().catch(() => {});
    await outbox?.close().catch(() => {});
    await worker?.close().catch(() => {});
    await registry?.stopAll().catch(() => {});
    await tokens?.close().catch(() => {});
    await mcpEndpoint?.close().catch(() => {});
    listening?.closeAllConnections();
    await new Promise((resolve) => (listening ? listening.close(resolve) : resolve(undefined)));
    await db.close().catch(() => {});
    throw error;
  }
}
