import { Router } from 'express';
import { z } from 'zod';
import { appendAudit } from '../audit/store.ts';
import type { Pool } from '../db/connect.ts';
import { notFound } from '../errors.ts';
import type { Integration, IntegrationRegistry } from '../integrations/registry.ts';
import { maskedSettings } from '../settings/resolve.ts';
import { setSetting } from '../settings/service.ts';
import { parseInput } from '../validate.ts';
import { actorOf, requireScope } from './auth.ts';

/** The list view: what an operator needs to see at a glance. Secrets never leave as values. */
export function summary(item: Integration) {
  return {
    name: item.name,
    version: item.manifest?.version ?? null,
    transport: item.manifest?.server.transport ?? null,
    dir: item.dir,
    state: item.state,
    reasons: item.reasons,
    lastError: item.lastError ?? null,
    tools: item.tools.filter((t) => !t.hidden).map((t) => t.name),
    hiddenTools: item.tools.filter((t) => t.hidden).map((t) => t.name),
    upstream: item.upstream?.status() ?? null,
    processes: item.processes.map((p) => p.status()),
    overrides: item.overrides,
  };
}

const settingBody = z.strictObject({
  value: z.string({ error: 'expected the value as a string' }),
});

export function integrationsRoutes(deps: {
  sql: Pool;
  registry: IntegrationRegistry;
  masterKey: Buffer;
}): Router {
  const router = Router();
  const find = (name: string): Integration => {
    const item = deps.registry.get(name);
    if (!item) throw notFound(`no integration named ${JSON.stringify(name)}`);
    return item;
  };

  router.get('/integrations', requireScope('integrations:read'), (_req, res) => {
    res.json({ integrations: deps.registry.list().map(summary) });
  });

  router.get('/integrations/:name', requireScope('integrations:read'), (req, res) => {
    const item = find(req.params.name as string);
    res.json({
      integration: {
        ...summary(item),
        description: item.manifest?.description ?? null,
        toolDetails: item.tools,
        settings: maskedSettings(item.settings),
      },
    });
  });

  router.post(
    '/integrations/:name/reload',
    requireScope('integrations:write'),
    async (req, res) => {
      const name = req.params.name as string;
      const item = await deps.registry.reload(name);
      await appendAudit(deps.sql, { ...actorOf(req), action: 'integrations.reload', target: name });
      if (!item) throw notFound(`no integration named ${JSON.stringify(name)} after reload`);
      res.json({ integration: summary(item) });
    },
  );

  router.put(
    '/integrations/:name/settings/:key',
    requireScope('integrations:write'),
    async (req, res) => {
      const item = find(req.params.name as string);
      const { value } = parseInput(settingBody, req.body, 'setting');
      const { secret } = await setSetting(deps.sql, {
        integration: item.name,
        declared: item.manifest?.settings ?? [],
        key: req.params.key as string,
        value,
        masterKey: deps.masterKey,
        ...actorOf(req),
      });
      res.json({ key: req.params.key, secret, reloadRequired: true });
    },
  );

  return router;
}
