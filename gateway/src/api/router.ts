import express, { Router } from 'express';
import type { Pool } from '../db/connect.ts';
import { authenticateApiKey } from '../http/auth.ts';
import { rememberMountPath } from '../http/request-context.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import type { Logger } from '../log.ts';
import type { TokenService } from '../tokens/service.ts';
import { auditRoutes } from './audit.ts';
import { integrationsRoutes } from './integrations.ts';
import { keysRoutes } from './keys.ts';
import { tasksRoutes } from './tasks.ts';

/** JSON bodies on the API are small: 1 MiB is far above any request it takes. */
export const API_BODY_LIMIT = 1024 * 1024;

/** /api/v1: authenticated with an operator API key; each route requires its own scope. */
export function apiRouter(deps: {
  sql: Pool;
  log: Logger;
  registry: IntegrationRegistry;
  masterKey: Buffer;
  tokens: TokenService;
  publicUrl: () => string;
}): Router {
  const { sql, log } = deps;
  const router = Router();
  router.use(rememberMountPath);
  router.use(authenticateApiKey(sql, log));
  router.use(express.json({ limit: API_BODY_LIMIT, strict: true }));
  router.use(keysRoutes(sql));
  router.use(auditRoutes(sql));
  router.use(integrationsRoutes(deps));
  router.use(tasksRoutes(deps));
  return router;
}
