import express, { Router } from 'express';
import { InProcessBus } from '../db/bus.ts';
import type { Pool } from '../db/connect.ts';
import { DocumentService } from '../documents/service.ts';
import {
  type PublishTaskEvents,
  TaskEventWaker,
  taskEventPublisher,
} from '../events/task-events.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import type { Lifecycle } from '../lifecycle.ts';
import type { Logger } from '../log.ts';
import { resumeRequest } from '../telemetry/spans.ts';
import type { TokenService } from '../tokens/service.ts';
import { approvalsRoutes } from './approvals.ts';
import { auditRoutes } from './audit.ts';
import { authenticateApiKey } from './auth.ts';
import { deliveriesRoutes } from './deliveries.ts';
import { documentsRoutes } from './documents.ts';
import { egressRoutes } from './egress.ts';
import { integrationPanelsRoutes } from './integration-panels.ts';
import { integrationsRoutes } from './integrations.ts';
import { keysRoutes } from './keys.ts';
import { kvRoutes } from './kv.ts';
import { openApiDocument } from './openapi.ts';
import { outboxRoutes } from './outbox.ts';
import { overviewRoutes } from './overview.ts';
import { profilesRoutes } from './profiles.ts';
import { sessionsRoutes } from './sessions.ts';
import { OpenStreams } from './streams.ts';
import { subscriptionsRoutes } from './subscriptions.ts';
import { tasksRoutes } from './tasks.ts';
import { traceRoutes } from './trace.ts';
import { webhookSignRoutes } from './webhook-sign.ts';

/** JSON bodies on the API are small: 1 MiB is far above any request it takes. */
export const API_BODY_LIMIT = 1024 * 1024;

/**
 * Without the gateway's shared bus (see `taskEvents` below), a stream learns of events that
 * other code writes by re-reading this often: 1 s, one indexed query per open stream.
 */
const FALLBACK_POLL_MS = 1_000;
/** With the shared bus a poll only covers a lost notice. */
const BUS_POLL_MS = 5_000;

export interface ApiDeps {
  sql: Pool;
  log: Logger;
  registry: IntegrationRegistry;
  masterKey: Buffer;
  tokens: TokenService;
  publicUrl: () => string;
  lifecycle?: Lifecycle;
  /**
   * The gateway's task-event bus (the one the worker publishes on). When gateway.ts does not
   * pass it, the API keeps an in-process bus of its own: its own writes (enqueue, cancel) wake
   * its streams at once, everything else arrives by FALLBACK_POLL_MS polling.
   */
  taskEvents?: { waker: TaskEventWaker; publish: PublishTaskEvents };
  /** Give gateway.ts this to end the streams in shutdown.onStart (else the lifecycle flag). */
  streams?: OpenStreams;
  /** Tells the delivery worker a replayed delivery is waiting. */
  wakeDeliveries?: () => void;
  /** Documents (issue 18): the gateway's service (with its embeddings, when configured). */
  documents?: DocumentService;
}

/** /api/v1: authenticated with an operator API key; each route requires its own scope. */
export function apiRouter(deps: ApiDeps): Router {
  const { sql, log } = deps;
  let events: { waker: () => Promise<TaskEventWaker>; publish: PublishTaskEvents; pollMs: number };
  if (deps.taskEvents) {
    const { waker, publish } = deps.taskEvents;
    events = { waker: async () => waker, publish, pollMs: BUS_POLL_MS };
  } else {
    const bus = new InProcessBus();
    let started: Promise<TaskEventWaker> | undefined;
    events = {
      waker: () => (started ??= TaskEventWaker.start(bus, log)),
      publish: taskEventPublisher(bus, log),
      pollMs: FALLBACK_POLL_MS,
    };
  }
  const streams = deps.streams ?? new OpenStreams(deps.lifecycle);
  const document = openApiDocument();
  const router = Router();
  router.use(authenticateApiKey(sql, log, deps.publicUrl));
  router.use(express.json({ limit: API_BODY_LIMIT, strict: true }));
  // Back in the request's span: the parser's next() ran from the body stream's 'end' event.
  router.use((_req, res, next) => resumeRequest(res, next));
  router.get('/openapi.json', (_req, res) => void res.json(document));
  router.use(keysRoutes(sql));
  router.use(auditRoutes(sql));
  router.use(egressRoutes(sql));
  router.use(integrationsRoutes(deps));
  router.use(webhookSignRoutes(deps));
  router.use(overviewRoutes(deps));
  router.use(integrationPanelsRoutes(deps));
  const taskDeps = { ...deps, ...events, streams };
  router.use(tasksRoutes(taskDeps));
  router.use(sessionsRoutes(taskDeps));
  router.use(deliveriesRoutes(deps));
  router.use(outboxRoutes(sql));
  router.use(subscriptionsRoutes(deps));
  router.use(profilesRoutes(deps));
  router.use(approvalsRoutes({ sql, publish: events.publish }));
  router.use(traceRoutes(sql));
  // Without the gateway's service (a test building the router alone): full text only.
  const documents = deps.documents ?? new DocumentService(sql, log, undefined);
  router.use(documentsRoutes({ registry: deps.registry, documents }));
  router.use(kvRoutes(deps));
  return router;
}
