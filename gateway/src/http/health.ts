import type { Policy } from '@switchboard/policy';
import { Router } from 'express';
import { authenticateApiKey, requireScope } from '../api/auth.ts';
import type { Sql } from '../db/connect.ts';
import { type Migration, migrationStatus } from '../db/migrate.ts';
import type { Lifecycle } from '../lifecycle.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from './metrics.ts';

/** Kubernetes' default probe timeout is 1 s; answer within it even when the database hangs. */
const READY_TIMEOUT_MS = 900;

type Readiness = { ok: true; migration: number } | { ok: false; status: string; message: string };

export function healthRoutes(deps: {
  sql: Sql;
  log: Logger;
  metrics: Metrics;
  migrations: Migration[];
  lifecycle: Lifecycle;
  /** The policy's `metrics.requireKey`, read per scrape (a reload takes effect at once). */
  policy: () => Policy | undefined;
  /** Settles when the integrations' first start is over; not ready until then (app.ts). */
  integrationsSettled?: Promise<void>;
}): Router {
  const router = Router();
  // A replica restarted behind a balancer is put back when /readyz answers 200: before its
  // integrations' servers have started, an MCP call there fails "not available (starting)"
  // (test/replicas/client-input.test.ts found it). Bounded: a server that does not start within
  // its timeout (30 s by default) is `failed`, and that settles it too.
  let settled = deps.integrationsSettled === undefined;
  deps.integrationsSettled?.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  // One probe at a time: if the database hangs, later probes share the pending one instead of
  // queueing more queries behind it.
  let inFlight: Promise<Readiness> | undefined;

  const probe = async (): Promise<Readiness> => {
    try {
      const status = await migrationStatus(deps.sql, deps.migrations);
      if (status.applied < status.latest) {
        return {
          ok: false,
          status: 'not_migrated',
          message: `database has ${status.applied} of ${status.latest} migrations; run switchboard migrate`,
        };
      }
      return { ok: true, migration: status.applied };
    } catch (error) {
      // At debug: a lost database is logged once by its sockets (db/socket.ts), not per probe.
      deps.log.debug({ err: error }, 'readiness check failed');
      return { ok: false, status: 'database_unreachable', message: (error as Error).message };
    }
  };

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    if (deps.lifecycle.shuttingDown) {
      res.status(503).json({ status: 'shutting_down' });
      return;
    }
    if (!settled) {
      res
        .status(503)
        .json({ status: 'starting', message: "the integrations' servers are starting" });
      return;
    }
    inFlight ??= probe().finally(() => {
      inFlight = undefined;
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Readiness>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            ok: false,
            status: 'database_unreachable',
            message: `database did not answer within ${READY_TIMEOUT_MS} ms`,
          }),
        READY_TIMEOUT_MS,
      );
    });
    const result = await Promise.race([inFlight, timeout]);
    clearTimeout(timer);
    if (result.ok) res.json({ status: 'ready', migration: result.migration });
    else res.status(503).json({ status: result.status, message: result.message });
  });

  // An invalid policy (undefined) keeps the last valid setting: a typo in the file must not open
  // metrics that a valid one closed.
  let requireKey = false;
  const authenticate = authenticateApiKey(deps.sql, deps.log);
  const canRead = requireScope('metrics:read');
  router.get(
    '/metrics',
    async (req, res, next) => {
      const policy = deps.policy();
      if (policy) requireKey = policy.metrics.requireKey;
      if (!requireKey) return next();
      // Either throws SwitchboardError 401/403, answered by the app's error handler.
      await authenticate(req, res, () => canRead(req, res, next));
    },
    async (_req, res) => {
      res.setHeader('Content-Type', deps.metrics.registry.contentType);
      res.send(await deps.metrics.registry.metrics());
    },
  );

  return router;
}
