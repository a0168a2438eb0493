import {
  type ManifestPanel,
  PANEL_DATA_SCHEMAS,
  PANEL_LIMITS,
  PANEL_VIEWS,
  panelRefreshMs,
} from '@switchboard/sdk';
import { Router } from 'express';
import { z } from 'zod';
import { notFound, SwitchboardError } from '../errors.ts';
import { callHandler } from '../integrations/handler-call.ts';
import type { Integration, IntegrationRegistry } from '../integrations/registry.ts';
import type { Logger } from '../log.ts';
import { requireScope } from './auth.ts';
import { requireOperatorKey } from './integration-key-bounds.ts';

/**
 * Integration panels (manifest `panels`, issue 16): the console's read-only views of an
 * integration. GET …/panels lists what the manifest declares; GET …/panels/:panel calls the
 * panel's hidden tool through the handler-call path (the gateway's own instance, no task) and
 * answers `{panel, data}` with data validated against its view's schema (sdk panels.ts). Nothing
 * the tool says reaches the caller unless it passed that schema: an error text, an oversized or
 * malformed answer become one of our own short messages (the tool's words go to the log).
 */

/** A panel answers within 10 s or not at all: a page waits on it. */
export const PANEL_TIMEOUT_MS = 10_000;
/**
 * A panel's data is reused for 2 s: however many consoles are open on the page, its tool is
 * called at most once per panel in that time (requests meanwhile share the call in flight).
 */
export const PANEL_REUSE_MS = 2_000;

export const PanelView = z.object({
  name: z.string(),
  title: z.string(),
  view: z.enum(PANEL_VIEWS),
  /** How often the console reloads it; null: when the page opens. */
  refreshMs: z.number().int().nullable(),
});
export const PanelListAnswer = z.object({ integration: z.string(), panels: z.array(PanelView) });
export const PanelDataAnswer = z.object({
  integration: z.string(),
  panel: PanelView,
  /** The view's data (sdk tablePanelDataSchema, kvPanelDataSchema, timeseriesPanelDataSchema). */
  data: z.record(z.string(), z.unknown()),
  fetchedAt: z.string(),
});

interface Loaded {
  data: Record<string, unknown>;
  fetchedAt: string;
}

function view(panel: ManifestPanel): z.output<typeof PanelView> {
  return {
    name: panel.name,
    title: panel.title,
    view: panel.view,
    refreshMs: panel.refresh === undefined ? null : (panelRefreshMs(panel.refresh) ?? null),
  };
}

const SAFE_SEGMENT = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const MAX_LISTED_ISSUES = 5;

/** Where the data is wrong, in our words: only schema names and indices, never the tool's text. */
function issuesOf(error: z.ZodError): Array<{ path: string; message: string }> {
  return error.issues.slice(0, MAX_LISTED_ISSUES).map((issue) => ({
    path: issue.path
      .map((p) =>
        typeof p === 'number' ? `[${p}]` : SAFE_SEGMENT.test(String(p)) ? `.${String(p)}` : '.…',
      )
      .join('')
      .replace(/^\./, ''),
    message:
      issue.code === 'unrecognized_keys'
        ? 'unexpected key'
        : issue.code === 'invalid_key'
          ? 'expected a column key: a letter, then letters, digits or _ (≤ 64)'
          : issue.message.slice(0, 200),
  }));
}

function jsonBytes(value: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

export function integrationPanelsRoutes(deps: {
  registry: IntegrationRegistry;
  log: Logger;
}): Router {
  const router = Router();
  /** Per panel: the call in flight or its answer of the last PANEL_REUSE_MS (errors are not kept). */
  const recent = new Map<string, { at: number; answer: Promise<Loaded>; settled: boolean }>();

  const find = (name: string): Integration => {
    const item = deps.registry.get(name);
    if (!item) throw notFound(`no integration named ${JSON.stringify(name)}`);
    return item;
  };

  async function load(item: Integration, panel: ManifestPanel): Promise<Loaded> {
    const at = `${item.name}:${panel.tool}`;
    // The manifest rules make it hidden; the server's own list says so too (judge.ts).
    const listed = item.tools.find((t) => t.name === panel.tool);
    if (item.state === 'ready' && !listed?.hidden) {
      throw new SwitchboardError('handler_unavailable', `${at} is not a hidden tool of the server`);
    }
    let answer: unknown;
    try {
      answer = await callHandler(
        deps.registry,
        item.name,
        panel.tool,
        { panel: panel.name },
        { timeoutMs: PANEL_TIMEOUT_MS },
      );
    } catch (error) {
      const code = error instanceof SwitchboardError ? error.code : 'handler_failed';
      deps.log.warn(
        { integration: item.name, panel: panel.name, err: error },
        'integration panel: the tool failed',
      );
      const why =
        code === 'handler_unavailable' || code === 'integration_unknown'
          ? `the integration is ${item.state}`
          : code === 'handler_error'
            ? 'the tool answered an error (see the gateway log)'
            : code === 'handler_result_invalid'
              ? 'the tool answered no JSON'
              : `the call failed or took over ${PANEL_TIMEOUT_MS / 1000} s (see the gateway log)`;
      throw new SwitchboardError(
        code === 'integration_unknown' ? 'handler_unavailable' : code,
        `panel ${panel.name} of ${item.name}: ${why}`,
      );
    }
    const bytes = jsonBytes(answer);
    if (bytes > PANEL_LIMITS.bytes) {
      deps.log.warn(
        { integration: item.name, panel: panel.name, bytes },
        'integration panel: answer too large',
      );
      throw new SwitchboardError(
        'handler_result_invalid',
        `panel ${panel.name} of ${item.name}: the tool's answer is over ${PANEL_LIMITS.bytes / 1024} KiB`,
        { details: { limit: PANEL_LIMITS.bytes } },
      );
    }
    const parsed = PANEL_DATA_SCHEMAS[panel.view].safeParse(answer);
    if (!parsed.success) {
      const issues = issuesOf(parsed.error);
      deps.log.warn(
        { integration: item.name, panel: panel.name, issues },
        'integration panel: answer does not fit its view',
      );
      throw new SwitchboardError(
        'handler_result_invalid',
        `panel ${panel.name} of ${item.name}: the tool's answer is not ${panel.view} panel data (${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')})`,
        { details: { issues } },
      );
    }
    return { data: parsed.data as Record<string, unknown>, fetchedAt: new Date().toISOString() };
  }

  router.get('/integrations/:name/panels', requireScope('integrations:read'), (req, res) => {
    const item = find(req.params.name as string);
    res.json({ integration: item.name, panels: (item.manifest?.panels ?? []).map(view) });
  });

  router.get(
    '/integrations/:name/panels/:panel',
    requireScope('integrations:read'),
    async (req, res) => {
      // A panel calls an integration's hidden tool: never on behalf of another integration's
      // process key, whatever its row holds.
      requireOperatorKey(req.apiKey, 'panels are read with operator keys only');
      const item = find(req.params.name as string);
      const name = req.params.panel as string;
      const panel = item.manifest?.panels.find((p) => p.name === name);
      if (!panel) {
        throw notFound(`${item.name} declares no panel named ${JSON.stringify(name.slice(0, 64))}`);
      }
      const key = `${item.name}\0${panel.name}`;
      const now = Date.now();
      // A call still in flight is always shared (a slow tool is never called twice at once).
      for (const [k, entry] of recent) {
        if (entry.settled && now - entry.at > PANEL_REUSE_MS) recent.delete(k);
      }
      let entry = recent.get(key);
      if (!entry) {
        const mine = { at: now, answer: load(item, panel), settled: false };
        entry = mine;
        recent.set(key, mine);
        mine.answer.then(
          () => {
            mine.settled = true;
            mine.at = Date.now();
          },
          () => {
            if (recent.get(key) === mine) recent.delete(key);
          },
        );
      }
      const { data, fetchedAt } = await entry.answer;
      res.json({ integration: item.name, panel: view(panel), data, fetchedAt });
    },
  );

  return router;
}
