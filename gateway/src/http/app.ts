import express, { type Express, type RequestHandler } from 'express';
import { apiRouter } from '../api/router.ts';
import type { OpenStreams } from '../api/streams.ts';
import { consoleRoutes } from '../console/routes.ts';
import type { Pool } from '../db/connect.ts';
import type { Migration } from '../db/migrate.ts';
import type { DocumentService } from '../documents/service.ts';
import type { PublishTaskEvents, TaskEventWaker } from '../events/task-events.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import type { Lifecycle } from '../lifecycle.ts';
import type { Logger } from '../log.ts';
import type { RequestRateLimits } from '../rate-limit.ts';
import type { TokenService } from '../tokens/service.ts';
import { webhookRoutes } from '../webhooks/mount.ts';
import type { Admission } from './admission.ts';
import { errorHandler, notFoundHandler } from './errors.ts';
import { healthRoutes } from './health.ts';
import { type McpHandler, mcpRoutes } from './mcp-routes.ts';
import { type Metrics, observeRequests } from './metrics.ts';
import { rememberMountPath, requestId } from './request-context.ts';
import { sequence } from './sequence.ts';
import { testFaultRoutes } from './test-faults.ts';
import { wellKnownRoutes } from './well-known.ts';

export interface AppDeps {
  sql: Pool;
  log: Logger;
  metrics: Metrics;
  migrations: Migration[];
  lifecycle: Lifecycle;
  registry: IntegrationRegistry;
  masterKey: Buffer;
  tokens: TokenService;
  /** The public base URL, without a trailing slash (known once the server listens). */
  publicUrl: () => string;
  mcp: McpHandler;
  /** The built-in task tools at /mcp/switchboard. */
  taskTools?: McpHandler;
  /** The gateway's task-event bus, for the API's SSE streams (api/router.ts). */
  taskEvents?: { waker: TaskEventWaker; publish: PublishTaskEvents };
  /** The API's open SSE streams, ended when the gateway shuts down. */
  streams?: OpenStreams;
  /** Tells the delivery worker a webhook delivery is waiting (mounts /hooks when given). */
  wakeDeliveries?: () => void;
  /** Settles once every integration has been judged (webhooks wait for it; see mount.ts). */
  integrationsLoaded?: Promise<void>;
  /**
   * Settles once every integration's first start is over (ready or failed): until then /readyz
   * answers 503 `starting` (health.ts), so a balancer does not send MCP calls to a replica whose
   * servers still start.
   */
  integrationsSettled?: Promise<void>;
  /** SWITCHBOARD_TEST_FAULTS=1 in a test: mounts the routes that throw on purpose. */
  testFaults?: boolean;
  /** Documents (issue 18): /api/v1/documents. */
  documents?: DocumentService;
  /** Load shedding (admission.ts): absent, every request is admitted. */
  admission?: Admission;
  /** The per-token rate limit's buckets (mcp-routes.ts); absent, this process's own. */
  rateLimits?: RequestRateLimits;
}

/** Express matches paths case-insensitively by default; so does this shortcut to /hooks. */
const HOOKS_PREFIX = /^\/hooks\//i;

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  // What every request passes first, as one express layer (sequence.ts): four layers were four
  // passes of express's router on every MCP call.
  const first: RequestHandler[] = [requestId, observeRequests(deps.metrics, deps.log)];
  // Before anything reads a body or verifies a token: a shed request costs a few µs.
  if (deps.admission) first.push(deps.admission.middleware());
  // Webhooks before MCP, behind one prefix test: a sender's burst (issue 6 asks ≥ 2,000/s)
  // skips the MCP router's matches, and an MCP request pays one regex test, not a router pass.
  if (deps.wakeDeliveries && deps.taskEvents) {
    const hooks = webhookRoutes({
      sql: deps.sql,
      log: deps.log,
      registry: deps.registry,
      publish: deps.taskEvents.publish,
      wakeDeliveries: deps.wakeDeliveries,
      webhookRequests: deps.metrics.webhookRequests,
      ...(deps.integrationsLoaded && { loaded: deps.integrationsLoaded }),
    });
    first.push((req, res, next) => (HOOKS_PREFIX.test(req.url) ? hooks(req, res, next) : next()));
  }
  app.use(sequence(...first));
  // MCP first: nearly every request is one, and each router it passes costs a match (the
  // bench profile put express's routing at ~60 µs of a ~700 µs tools/call).
  app.use(
    mcpRoutes({
      tokens: deps.tokens,
      registry: deps.registry,
      endpoint: deps.mcp,
      log: deps.log,
      publicUrl: deps.publicUrl,
      metrics: deps.metrics,
      ...(deps.taskTools && { taskTools: deps.taskTools }),
      ...(deps.rateLimits && { rateLimits: deps.rateLimits }),
    }),
  );
  app.use(healthRoutes({ ...deps, policy: () => deps.registry.currentPolicy() }));
  app.use(wellKnownRoutes(deps));
  app.use(consoleRoutes(deps));
  app.use('/api/v1', rememberMountPath, apiRouter(deps));
  if (deps.testFaults) app.use(testFaultRoutes());
  app.use(notFoundHandler);
  app.use(errorHandler(deps.log));
  return app;
}
