import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { Counter } from 'prom-client';
import { OpenStreams } from './api/streams.ts';
import { type Config, publicUrlFor } from './config.ts';
import { logContainment } from './containment/detect.ts';
import { InProcessBus, PostgresBus } from './db/bus.ts';
import { type Database, openDatabase, type Pool } from './db/connect.ts';
import { migrate, readMigrations } from './db/migrate.ts';
import { DatabaseRateLimits } from './db/rate-buckets.ts';
import { DeliveryWorker } from './deliveries/worker.ts';
import { DocumentService } from './documents/service.ts';
import { type EgressService, startEgress } from './egress/start.ts';
import { SwitchboardError } from './errors.ts';
import {
  type PublishTaskEvents,
  TaskEventWaker,
  taskEventPublisher,
} from './events/task-events.ts';
import { createApprovalGuard } from './guards/approvals.ts';
import { argumentRulesGuard } from './guards/argument-rules.ts';
import { createBudgetGuard } from './guards/budgets.ts';
import { countedGuard } from './guards/counted.ts';
import { Admission, registerAdmissionMetrics } from './http/admission.ts';
import { createApp } from './http/app.ts';
import { createMetrics, type Metrics } from './http/metrics.ts';
import { registerIntegrationStates, registerQueueStats } from './http/scrape-metrics.ts';
import { followEventHooks } from './integrations/event-hooks.ts';
import { IntegrationRegistry } from './integrations/registry.ts';
import { releaseTaskInstances } from './integrations/task-instances.ts';
import { envKeyPrefix, hashApiKey } from './keys/format.ts';
import { syncEnvAdminKey } from './keys/store.ts';
import type { Logger } from './log.ts';
import { createMcpEndpoint } from './mcp/endpoint.ts';
import { createTaskToolsEndpoint } from './mcp/task-tools.ts';
import { createPostWebhook } from './outbox/post-webhook.ts';
import { OutboxWorker } from './outbox/worker.ts';
import { refuseDevelopmentDefaults } from './production-mode.ts';
import { LocalRateLimits } from './rate-limit.ts';
import { RetentionJob } from './retention/job.ts';
import { Scheduler } from './schedules/scheduler.ts';
import { loadMasterKey } from './secrets/master-key.ts';
import { createShutdown, type Shutdown } from './shutdown.ts';
import { profileRedactor } from './tasks/output-redaction.ts';
import { ToolEventSink, UNKNOWN_LABEL } from './tasks/tool-events.ts';
import { TaskWorker } from './tasks/worker.ts';
import { startTracing } from './telemetry/tracing.ts';
import { TokenService } from './tokens/service.ts';

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
  /** Its metrics (main.ts counts the errors nothing caught in them). */
  metrics: Metrics;
  /** The egress proxy of its integrations' programs; undefined with SWITCHBOARD_EGRESS=off. */
  egress: EgressService | undefined;
}

/**
 * Boot order: database → migrations → bootstrap key → HTTP → integrations → workers. Every step
 * that starts something adds it to `shutdown`, and boot checks between steps whether shutdown
 * has begun (a signal, main.ts): from the first step on, stopping means one thing, `shutdown.run`,
 * which waits for the step in progress and then closes what was started, the last first. A step
 * that fails does the same and rethrows; an integration that fails only marks itself.
 */
export async function startGateway(
  config: Config,
  log: Logger,
  /** Settings resolve from it by their declared names; nothing else of it reaches integrations. */
  env: NodeJS.ProcessEnv = process.env,
  shutdown: Shutdown = createShutdown({ log, deadlineMs: config.shutdownTimeoutMs }),
): Promise<Gateway> {
  // Before anything starts: a refused configuration has nothing to shut down.
  refuseDevelopmentDefaults(config);
  let booted: () => void = () => {};
  shutdown.holdUntil(
    new Promise<void>((resolve) => {
      booted = resolve;
    }),
  );
  const step = () => {
    if (shutdown.started) {
      throw new SwitchboardError('shutting_down', 'start-up stopped: the gateway is shutting down');
    }
  };
  try {
    step();
    // First, so it is closed last: the spans of the shutdown itself are exported too.
    const tracing = await startTracing(config.tracing, log);
    shutdown.add('tracing', () => tracing.shutdown());
    const migrations = readMigrations();
    const db: Database = await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      log,
      // PGlite's pgvector bundle only for embeddings (documents/service.ts).
      vector: config.embeddings !== undefined,
      embeddedMemory: config.embeddedMemory,
    });
    shutdown.add('database', () => db.close());
    step();
    await migrate(db.sql, log, migrations);
    step();
    if (config.adminKey) {
      await syncEnvAdminKey(db.sql, {
        prefix: envKeyPrefix(config.adminKey),
        hash: hashApiKey(config.adminKey),
      });
    }
    const masterKey = loadMasterKey(config.masterKey, config.dataDir, log);
    let url = '';
    const bus = db.embedded ? new InProcessBus() : new PostgresBus(db.sql, log);
    step();
    const tokens = await TokenService.start({
      sql: db.sql,
      masterKey,
      bus,
      log,
      issuer: () => url,
    });
    shutdown.add('tokens', () => tokens.close());
    step();
    const owner = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const metrics = createMetrics();
    // Documents (issue 18): full text, or hybrid once the vector store exists (never fails boot).
    const embeddingFailures = new Counter({
      name: 'switchboard_document_embedding_failures_total',
      help: 'Document ingests whose embedding failed: stored without one, found by full text only',
      registers: [metrics.registry],
    });
    const documents = new DocumentService(db.sql, log, config.embeddings, {
      onEmbeddingFailure: () => embeddingFailures.inc(),
    });
    await documents.start();
    // Found once per process (a probe of a few ms): servers and agents started later use it.
    logContainment(log, config.containment);
    let egress: EgressService | undefined;
    const integrations = new IntegrationRegistry({
      sql: db.sql,
      log,
      config,
      masterKey,
      env,
      gatewayUrl: () => url,
      gatewayToken: (integration) => tokens.mintGateway(integration),
      instance: owner,
      bus,
      onUpstreamRestart: (integration) => metrics.upstreamRestarts.inc({ integration }),
      egress: () => egress,
    });
    shutdown.add('integrations', () => integrations.stopAll());
    // Lifecycle hooks (manifest `events:`) into event_hooks as integrations become ready or are
    // refused or removed; events/store.ts fanOut reads them.
    const eventHooks = followEventHooks(integrations, db.sql, log);
    shutdown.add('event hooks', async () => {
      eventHooks.stop();
      await eventHooks.idle();
    });
    // A tool approval on any gateway shows the tool again here (integrations/tool-pinning.ts).
    const stopFollowingPins = await integrations.followToolPins();
    shutdown.add('tool pin approvals', stopFollowingPins);
    // A task's own upstream instances close when it ends, here or in another gateway process.
    tokens.onRevoked((taskIds) => releaseTaskInstances(integrations, taskIds, log));
    registerIntegrationStates(metrics.registry, integrations);
    registerQueueStats(metrics.registry, db.sql, log);
    // Metric labels name only integrations the registry holds (docs/metrics.md).
    const known = (name: string) => integrations.get(name) !== undefined;
    const label = (name: string) => (known(name) ? name : UNKNOWN_LABEL);
    const toolEvents = new ToolEventSink(db.sql, log, metrics.registry);
    shutdown.add('tool events', () => toolEvents.flush());
    const publish = taskEventPublisher(bus, log);
    // One waker for the API's SSE streams, ask_user and held calls on the bus the worker publishes on:
    // events of any process reach them at once, not by their fallback polls.
    const waker = await TaskEventWaker.start(bus, log);
    shutdown.add('task event streams', () => waker.close());
    const mcp = createMcpEndpoint({
      registry: integrations,
      log,
      sql: db.sql,
      bus,
      instance: owner,
      upstreamToken: (integration, grant, tools) => tokens.mintUpstream(integration, grant, tools),
      onToolCall: (event) => toolEvents.record(event),
      includeArguments: (name) =>
        integrations.currentPolicy()?.integrations[name]?.audit?.arguments ?? false,
      // Argument rules first: a call they refuse must not use up the task's budget nor ask a
      // person; approvals before budgets: a denied call is not counted as made.
      guards: [
        argumentRulesGuard({ policy: () => integrations.currentPolicy() }),
        createApprovalGuard({
          sql: db.sql,
          log,
          publish,
          registry: integrations,
          waker,
          onRequested: (name) => metrics.approvalRequests.inc({ integration: label(name) }),
          onDecided: (name, decision) =>
            metrics.approvalDecisions.inc({ integration: label(name), decision }),
        }),
        createBudgetGuard({ sql: db.sql, log, registry: integrations, bus }),
      ].map((guard) => countedGuard(guard, metrics.guardRefusals, known)),
      mcpTasks: {
        sql: db.sql,
        bus,
        owner,
        onRevoked: (listener) => tokens.onRevoked(listener),
        upstreamTaskMaxMs: config.mcpTaskUpstreamMaxMs,
      },
    });
    // MCP GET streams (list_changed) stay open for as long as a client likes: end them first.
    shutdown.onStart(() => void mcp.close());
    const taskTools = createTaskToolsEndpoint({
      sql: db.sql,
      log,
      registry: integrations,
      publish,
      waker,
      flushToolEvents: () => toolEvents.flush(),
      redactFor: (claims) =>
        profileRedactor(db.sql, masterKey, integrations.currentPolicy(), claims.profile),
      documents,
    });
    shutdown.add('task tools', () => taskTools.close());
    step();
    const streams = new OpenStreams(shutdown);
    shutdown.onStart(() => streams.close());
    let integrationsLoaded: () => void = () => {};
    const loaded = new Promise<void>((resolve) => {
      integrationsLoaded = resolve;
    });
    let integrationsSettled: () => void = () => {};
    const settled = new Promise<void>((resolve) => {
      integrationsSettled = resolve;
    });
    let deliveries: DeliveryWorker | undefined;
    // Load shedding (issue 19): a process past its capacity answers 503 at once, not late.
    const admission = new Admission({
      maxConcurrent: config.maxConcurrentRequests,
      maxEventLoopDelayMs: config.shedEventLoopDelayMs,
      onShed: (reason) => metrics.requestsShed.inc({ reason }),
    });
    shutdown.add('load shedding', async () => admission.close());
    registerAdmissionMetrics(metrics.registry, admission);
    // The per-token rate limit: exact across replicas on PostgreSQL (a statement for the limited
    // requests that arrive together), in memory on the embedded database (one process: exact).
    const rateLimits = db.embedded
      ? new LocalRateLimits()
      : new DatabaseRateLimits(db.sql, {
          log,
          onFallback: (reason) => metrics.rateLimitFallbacks.inc({ reason }),
        });
    const app = createApp({
      sql: db.sql,
      log,
      metrics,
      migrations,
      lifecycle: shutdown,
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
      integrationsSettled: settled,
      testFaults: config.testFaults,
      documents,
      admission,
      rateLimits,
    });
    const server = http.createServer(app);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    shutdown.serve(server);
    step();
    const port = (server.address() as AddressInfo).port;
    url = publicUrlFor(config, port);
    // Egress proxy (issue 21): after listen (its API is relayed), before integrations start.
    if (config.egress) {
      const started = await startEgress({
        sql: db.sql,
        log,
        metrics: metrics.registry,
        config: config.egress,
        listener: { host: config.host, port },
        grantOf: (name) => integrations.get(name)?.egressGrant,
        gatewayUrl: () => url,
      });
      egress = started;
      shutdown.add('egress proxy', () => started.close());
    }
    // After listen: background processes are told the gateway's URL, and with PORT=0 it is
    // known only now. Judging takes milliseconds; servers start in the background.
    await integrations.loadAll();
    await eventHooks.prune();
    integrationsLoaded();
    // In the background: whenSettled waits for each server's start (up to its timeout).
    integrations.whenSettled().then(integrationsSettled, (error: unknown) => {
      log.error({ err: error }, 'waiting for the integrations to start failed');
      integrationsSettled();
    });
    step();
    // MCP tasks (durable tools/calls of the tasks extension) run calls once the integrations'
    // servers have started: a call claimed before ran against tools not yet known and failed.
    // In the background, like `settled` itself (up to each server's start timeout, 30 s).
    void settled
      .then(() => mcp.startMcpTasks?.())
      .catch((error: unknown) => log.error({ err: error }, 'MCP tasks did not start'));
    const taskWorker = await TaskWorker.start({
      sql: db.sql,
      log,
      registry: integrations,
      tokens,
      bus,
      publish,
      publicUrl: () => url,
      masterKey,
      owner,
      leaseMs: config.taskLeaseMs,
      hostEnv: env,
      flushToolEvents: () => toolEvents.flush(),
    });
    shutdown.add('task worker', () => taskWorker.close());
    // Agents stopped at once: their open MCP requests (ask_user) would hold the server open.
    shutdown.onStart(() => void taskWorker.close());
    step();
    const deliveryWorker = await DeliveryWorker.start({
      sql: db.sql,
      log,
      registry: integrations,
      publish,
    });
    deliveries = deliveryWorker;
    shutdown.add('delivery worker', () => deliveryWorker.close());
    step();
    const outboxWorker = await OutboxWorker.start({
      sql: db.sql,
      log,
      registry: integrations,
      bus,
      publish,
      masterKey,
      postWebhook: createPostWebhook(() => integrations.currentPolicy()?.dispatch.allowHosts ?? []),
    });
    shutdown.add('outbox worker', () => outboxWorker.close());
    step();
    const schedules = await Scheduler.start({
      sql: db.sql,
      log,
      registry: integrations,
      publish,
      owner,
      wakeDeliveries: () => deliveryWorker.wake(),
    });
    shutdown.add('scheduler', () => schedules.close());
    shutdown.onStart(() => void schedules.close());
    step();
    const retention = RetentionJob.start({
      sql: db.sql,
      log,
      policy: () => integrations.currentPolicy(),
    });
    shutdown.add('retention job', () => retention.close());
    step();
    log.info({ url, listen: `${config.host}:${port}` }, 'switchboard gateway listening');
    booted();
    return {
      url,
      port,
      sql: db.sql,
      shutdown,
      registry: integrations,
      tokens,
      publishTaskEvents: publish,
      metrics,
      egress,
    };
  } catch (error) {
    booted();
    await shutdown.run(shutdown.started ? 'signal' : 'start-up failed');
    throw error;
  }
}
