import { Router } from 'express';
import { z } from 'zod';
import { appendAudit } from '../audit/store.ts';
import type { Pool } from '../db/connect.ts';
import { notFound, SwitchboardError } from '../errors.ts';
import type { Integration, IntegrationRegistry } from '../integrations/registry.ts';
import { CATALOG_LIMITS } from '../integrations/tool-catalog.ts';
import { describePending } from '../integrations/tool-pinning.ts';
import { nextFireOf } from '../schedules/scheduler.ts';
import { maskedSettings } from '../settings/resolve.ts';
import { setSetting } from '../settings/service.ts';
import { parseInput } from '../validate.ts';
import { actorOf, requireScope } from './auth.ts';

/**
 * What to configure at each sender and when each schedule runs: the full public URL of each
 * webhook with its signature scheme, and each schedule with its next fire time (armed only
 * while the integration is ready; computed by the scheduler's own nextFireOf, UTC).
 */
function endpoints(item: Integration, publicUrl: string) {
  const ready = item.state === 'ready';
  return {
    webhooks: (item.manifest?.webhooks ?? []).map((w) => ({
      name: w.name,
      url: `${publicUrl}/hooks/${encodeURIComponent(item.name)}/${encodeURIComponent(w.name)}`,
      scheme: w.verify.scheme,
      secretSetting: w.verify.secret ?? null,
      mode: w.mode,
    })),
    schedules: (item.manifest?.schedules ?? []).map((s) => {
      const next = ready ? nextFireOf(s.cron) : null;
      return {
        name: s.name,
        cron: s.cron,
        handler: s.handler,
        armed: ready,
        nextFireAt: next ? next.toISOString() : null,
      };
    }),
  };
}

/** An integration's webhooks and schedules as the API answers them (the CLI reads this shape). */
export type IntegrationEndpoints = ReturnType<typeof endpoints>;

/** The list view: what an operator needs to see at a glance. Secrets never leave as values. */
export function summary(item: Integration, publicUrl: string) {
  const pending = [...(item.toolPins?.pending.keys() ?? [])];
  return {
    name: item.name,
    version: item.manifest?.version ?? null,
    transport: item.manifest?.server.transport ?? null,
    dir: item.dir,
    state: item.state,
    reasons: item.reasons,
    lastError: item.lastError ?? null,
    /** isolated, advisory (a program ignoring HTTPS_PROXY is not stopped) or off; null: not granted. */
    egress: item.egress ?? null,
    tools: item.tools.filter((t) => !t.hidden && !pending.includes(t.name)).map((t) => t.name),
    hiddenTools: item.tools.filter((t) => t.hidden).map((t) => t.name),
    /** Tools awaiting an operator's approval (integrations/tool-pinning.ts), hidden meanwhile. */
    changed: pending.length > 0,
    pendingTools: pending,
    toolPinning: item.toolPins?.mode ?? null,
    upstream: item.upstream?.status() ?? null,
    processes: item.processes.map((p) => p.status()),
    overrides: item.overrides,
    ...endpoints(item, publicUrl),
  };
}

/**
 * One integration's page: the summary (with its webhooks and schedules), its tools with
 * descriptions, its settings (masked, with the manifest's descriptions).
 */
export function detail(item: Integration, publicUrl: string) {
  const declared = new Map((item.manifest?.settings ?? []).map((s) => [s.key, s]));
  return {
    ...summary(item, publicUrl),
    description: item.manifest?.description ?? null,
    toolDetails: item.tools,
    settings: maskedSettings(item.settings).map((s) => ({
      ...s,
      description: declared.get(s.key)?.description ?? null,
    })),
  };
}

/**
 * Tools named in one approval: CATALOG_LIMITS.tools (1,000) is all an integration can list;
 * a name is at most 128 characters (integrations/names.ts), 256 leaves room for a wrong one.
 */
export const ApproveToolsBody = z.strictObject({
  tools: z
    .array(z.string().min(1, 'expected a tool name').max(256, 'expected a tool name'), {
      error: 'expected a list of tool names',
    })
    .min(1, 'expected at least one tool name (leave tools out to approve every pending tool)')
    .max(CATALOG_LIMITS.tools, `expected at most ${CATALOG_LIMITS.tools} tool names`)
    .optional(),
});

/** Pending tools with their diffs, a page at a time: 50 diffs of at most 32 KiB each. */
export const ToolChangesQuery = z.strictObject({
  after: z.string().max(256, 'expected a tool name').optional(),
  limit: z.coerce
    .number({ error: 'expected a whole number from 1 to 50' })
    .int('expected a whole number from 1 to 50')
    .min(1, 'expected a whole number from 1 to 50')
    .max(50, 'expected a whole number from 1 to 50')
    .default(50),
});

const settingBody = z.strictObject({
  value: z.string({ error: 'expected the value as a string' }),
});

export function integrationsRoutes(deps: {
  sql: Pool;
  registry: IntegrationRegistry;
  masterKey: Buffer;
  publicUrl: () => string;
}): Router {
  const router = Router();
  const find = (name: string): Integration => {
    const item = deps.registry.get(name);
    if (!item) throw notFound(`no integration named ${JSON.stringify(name)}`);
    return item;
  };

  router.get('/integrations', requireScope('integrations:read'), (_req, res) => {
    const url = deps.publicUrl();
    res.json({ integrations: deps.registry.list().map((item) => summary(item, url)) });
  });

  router.get('/integrations/:name', requireScope('integrations:read'), (req, res) => {
    const item = find(req.params.name as string);
    res.json({ integration: detail(item, deps.publicUrl()) });
  });

  router.get('/integrations/:name/tool-changes', requireScope('integrations:read'), (req, res) => {
    const item = find(req.params.name as string);
    const q = parseInput(ToolChangesQuery, req.query, 'query');
    const names = [...(item.toolPins?.pending.keys() ?? [])].sort();
    const from = q.after === undefined ? 0 : names.findIndex((n) => n > q.after!);
    const page = from < 0 ? [] : names.slice(from, from + q.limit);
    const more = from >= 0 && from + q.limit < names.length;
    res.json({
      integration: item.name,
      toolPinning: item.toolPins?.mode ?? null,
      pending: names.length,
      changes: page.map((n) => describePending(item.toolPins!.pending.get(n)!)),
      next: more ? page.at(-1)! : null,
    });
  });

  router.post(
    '/integrations/:name/approve-tools',
    requireScope('integrations:write'),
    async (req, res) => {
      // An integration's own processes hold keys too: none of them may approve its tools.
      if (req.apiKey?.integration) {
        throw new SwitchboardError(
          'forbidden',
          "an integration's process key cannot approve tool definitions",
        );
      }
      const name = req.params.name as string;
      find(name);
      const { tools } = parseInput(ApproveToolsBody, req.body ?? {}, 'approval');
      const actor = actorOf(req);
      const approved = await deps.registry.approveTools(name, tools, actor.actor);
      // The hashes say which definitions were approved (the first 100: ≤ 100 × ~150 bytes).
      await appendAudit(deps.sql, {
        ...actor,
        action: 'integrations.approve-tools',
        target: name,
        details: {
          tools: approved.slice(0, 100).map((a) => a.tool),
          sha256: approved.slice(0, 100).map((a) => a.hash),
          count: approved.length,
        },
      });
      res.json({
        approved: approved.map((a) => a.tool),
        integration: summary(find(name), deps.publicUrl()),
      });
    },
  );

  router.post(
    '/integrations/:name/reload',
    requireScope('integrations:write'),
    async (req, res) => {
      const name = req.params.name as string;
      const item = await deps.registry.reload(name);
      await appendAudit(deps.sql, { ...actorOf(req), action: 'integrations.reload', target: name });
      if (!item) throw notFound(`no integration named ${JSON.stringify(name)} after reload`);
      res.json({ integration: summary(item, deps.publicUrl()) });
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
