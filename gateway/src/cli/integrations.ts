import path from 'node:path';
import { formatManifestErrors, loadManifest } from '@switchboard/sdk';
import type { IntegrationEndpoints } from '../api/integrations.ts';
import { UsageError } from '../errors.ts';
import { type Command, HELP_OPTION, parseCommandArgs, showHelp } from './command.ts';
import { watchAndReload } from './dev.ts';
import { callGateway } from './gateway-api.ts';
import { readStdinValue } from './stdin-value.ts';
import { formatTable } from './table.ts';

const usage = `Usage:
  switchboard integrations validate DIR
  switchboard integrations list [--json]
  switchboard integrations show NAME [--json]
  switchboard integrations settings set NAME KEY=VALUE
  switchboard integrations settings set NAME KEY --stdin
  switchboard integrations reload NAME
  switchboard integrations reload --watch      (the same as: switchboard dev)
  switchboard integrations tools-diff NAME
  switchboard integrations approve-tools NAME [--tool TOOL]...

"validate" checks DIR/switchboard.yaml offline and exits 1 with every error.
"list" adds each webhook's full URL (what to configure at the sender) with its signature scheme,
and each schedule's next fire time (UTC; "-" while the integration is not ready); "show" adds
the settings (secrets masked) and the tools; "switchboard webhook send" tests a webhook.
The others ask the running gateway (SWITCHBOARD_URL, default http://HOST:PORT) with the API key
in SWITCHBOARD_API_KEY (or SWITCHBOARD_ADMIN_KEY): scopes integrations:read / integrations:write.
A setting takes effect at the next reload of the integration. For a secret, use --stdin: the
value is read from standard input (one trailing newline dropped), so it is not in the process
list or the shell history, e.g.  pass show weather | switchboard integrations settings set
weather WEATHER_API_KEY --stdin
A tool whose definition changed since it was approved (policy toolPinning) is hidden from agents
and its integration shows STATE "changed": "tools-diff" shows what changed (a unified diff per
tool), "approve-tools" approves the current definitions (all pending tools, or each --tool).`;

interface Summary {
  name: string;
  version: string | null;
  transport: string | null;
  state: string;
  reasons: Array<{ code: string; message: string }>;
  lastError: string | null;
  egress?: string | null;
  tools: string[];
  changed?: boolean;
  pendingTools?: string[];
  webhooks?: IntegrationEndpoints['webhooks'];
  schedules?: IntegrationEndpoints['schedules'];
  processes?: Array<{
    name: string;
    state: string;
    missing: string[];
    restarts: number;
    lastExit: string | null;
  }>;
}

/**
 * A process that is not running, or that had to be restarted, is worth a note: what it waits
 * for, or how it last ended (with the stderr line that says why, e.g. EADDRINUSE).
 */
function processNotes(item: Summary): string[] {
  return (item.processes ?? [])
    .filter((p) => p.state !== 'running' || p.restarts > 0)
    .map((p) =>
      p.state === 'waiting'
        ? `process ${p.name} waits for ${p.missing.join(', ')}`
        : `process ${p.name} ${p.state}${p.restarts > 0 ? ` after ${p.restarts} restart${p.restarts === 1 ? '' : 's'}` : ''}${p.lastExit ? ` (last exit: ${p.lastExit})` : ''}`,
    );
}

/** Tools hidden until approved: how many, the first few, and the command to review them. */
function pendingNote(item: Summary): string[] {
  const pending = item.pendingTools ?? [];
  if (pending.length === 0) return [];
  const shown = pending.slice(0, 5).join(', ') + (pending.length > 5 ? ', …' : '');
  return [
    `${pending.length} tool${pending.length === 1 ? '' : 's'} await approval (${shown}): switchboard integrations tools-diff ${item.name}`,
  ];
}

interface ToolChange {
  tool: string;
  reason: 'new' | 'changed';
  hash: string;
  approvedBy: string | null;
  approvedAt: string | null;
  diff: string;
}

function changeText(change: ToolChange): string {
  const head =
    change.reason === 'changed'
      ? `tool ${change.tool}: changed since approved by ${change.approvedBy} at ${change.approvedAt} (sha256 ${change.hash})`
      : `tool ${change.tool}: new, not approved yet (policy toolPinning: operator; sha256 ${change.hash})`;
  return `${head}\n${change.diff}\n`;
}

function table(items: Summary[]): string {
  const header = ['NAME', 'VERSION', 'TRANSPORT', 'STATE', 'EGRESS', 'TOOLS', 'REASONS'];
  const rows = items.map((i) => [
    i.name,
    i.version ?? '-',
    i.transport ?? '-',
    i.changed ? 'changed' : i.state,
    i.egress ?? '-',
    String(i.tools.length),
    [
      ...pendingNote(i),
      ...i.reasons.map((r) => `${r.code}: ${r.message}`),
      ...(i.lastError ? [i.lastError] : []),
      ...processNotes(i),
    ].join('; ') || '-',
  ]);
  return formatTable(header, rows);
}

/** The webhooks and schedules of `items`, one table each (empty when there are none). */
function endpointTables(items: Summary[]): string[] {
  const hooks = items.flatMap((i) =>
    (i.webhooks ?? []).map((w) => [
      i.name,
      w.name,
      w.secretSetting ? `${w.scheme} (${w.secretSetting})` : w.scheme,
      w.mode,
      w.url,
    ]),
  );
  const schedules = items.flatMap((i) =>
    (i.schedules ?? []).map((s) => [i.name, s.name, s.cron, s.nextFireAt ?? '-']),
  );
  return [
    ...(hooks.length > 0
      ? ['', formatTable(['INTEGRATION', 'WEBHOOK', 'SCHEME', 'MODE', 'URL'], hooks)]
      : []),
    ...(schedules.length > 0
      ? ['', formatTable(['INTEGRATION', 'SCHEDULE', 'CRON', 'NEXT FIRE (UTC)'], schedules)]
      : []),
  ];
}

interface Detail extends Summary {
  description: string | null;
  settings: Array<{ key: string; secret: boolean; source: string | null; value: string | null }>;
}

function details(item: Detail): string {
  const settings = item.settings.map((s) => [
    s.key,
    s.value ?? '(not set)',
    s.source ?? '-',
    s.secret ? 'yes' : 'no',
  ]);
  return [
    table([item]),
    ...(item.description ? ['', item.description] : []),
    ...(settings.length > 0
      ? ['', formatTable(['SETTING', 'VALUE', 'SOURCE', 'SECRET'], settings)]
      : []),
    ...endpointTables([item]),
    ...(item.tools.length > 0 ? ['', `tools: ${item.tools.join(', ')}`] : []),
  ].join('\n');
}

export const integrations: Command = {
  name: 'integrations',
  summary: 'validate manifests; list, show, configure and reload integrations',
  usage,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    if (sub === '--help' || sub === '-h' || sub === 'help') return showHelp(ctx, usage);
    switch (sub) {
      case 'validate': {
        const { values, positionals } = parseCommandArgs(rest, HELP_OPTION, usage, {
          min: 1,
          max: 1,
        });
        if (values.help) return showHelp(ctx, usage);
        const dir = path.resolve(positionals[0]!);
        const result = await loadManifest(dir);
        if (result.ok) {
          ctx.out(`${result.file}: valid (${result.manifest.name} ${result.manifest.version})`);
          return 0;
        }
        ctx.err(formatManifestErrors(result.errors));
        return 1;
      }
      case 'list': {
        const { values } = parseCommandArgs(
          rest,
          { ...HELP_OPTION, json: { type: 'boolean' } },
          usage,
        );
        if (values.help) return showHelp(ctx, usage);
        const json = await callGateway(ctx.env, usage, 'GET', '/integrations');
        const items = json.integrations as Summary[];
        ctx.out(
          values.json
            ? JSON.stringify(json, null, 2)
            : [table(items), ...endpointTables(items)].join('\n'),
        );
        return 0;
      }
      case 'show': {
        const { values, positionals } = parseCommandArgs(
          rest,
          { ...HELP_OPTION, json: { type: 'boolean' } },
          usage,
          { min: 1, max: 1 },
        );
        if (values.help) return showHelp(ctx, usage);
        const json = await callGateway(
          ctx.env,
          usage,
          'GET',
          `/integrations/${encodeURIComponent(positionals[0]!)}`,
        );
        ctx.out(values.json ? JSON.stringify(json, null, 2) : details(json.integration as Detail));
        return 0;
      }
      case 'reload': {
        const { values, positionals } = parseCommandArgs(
          rest,
          { ...HELP_OPTION, watch: { type: 'boolean' } },
          usage,
          { min: 0, max: 1 },
        );
        if (values.help) return showHelp(ctx, usage);
        if (values.watch) {
          if (positionals.length > 0)
            throw new UsageError('--watch watches every folder: give no NAME', usage);
          return watchAndReload(ctx);
        }
        if (positionals.length === 0) throw new UsageError('missing argument', usage);
        const json = await callGateway(
          ctx.env,
          usage,
          'POST',
          `/integrations/${encodeURIComponent(positionals[0]!)}/reload`,
        );
        ctx.out(table([json.integration as Summary]));
        return 0;
      }
      case 'tools-diff': {
        const { values, positionals } = parseCommandArgs(rest, HELP_OPTION, usage, {
          min: 1,
          max: 1,
        });
        if (values.help) return showHelp(ctx, usage);
        const name = encodeURIComponent(positionals[0]!);
        let after: string | null = null;
        let shown = 0;
        do {
          const query = after === null ? '' : `?after=${encodeURIComponent(after)}`;
          const json = await callGateway(
            ctx.env,
            usage,
            'GET',
            `/integrations/${name}/tool-changes${query}`,
          );
          for (const change of json.changes as ToolChange[]) ctx.out(changeText(change));
          shown += (json.changes as ToolChange[]).length;
          after = json.next as string | null;
        } while (after !== null);
        if (shown === 0) ctx.out(`${positionals[0]}: no tool awaits approval`);
        return 0;
      }
      case 'approve-tools': {
        const { values, positionals } = parseCommandArgs(
          rest,
          { ...HELP_OPTION, tool: { type: 'string', multiple: true } },
          usage,
          { min: 1, max: 1 },
        );
        if (values.help) return showHelp(ctx, usage);
        const tools = values.tool as string[] | undefined;
        const json = await callGateway(
          ctx.env,
          usage,
          'POST',
          `/integrations/${encodeURIComponent(positionals[0]!)}/approve-tools`,
          tools ? { tools } : {},
        );
        const approved = json.approved as string[];
        ctx.out(
          approved.length === 0
            ? `${positionals[0]}: no tool awaited approval`
            : `approved ${approved.length} tool${approved.length === 1 ? '' : 's'} of ${positionals[0]}: ${approved.join(', ')}`,
        );
        ctx.out(table([json.integration as Summary]));
        return 0;
      }
      case 'settings': {
        const { values, positionals } = parseCommandArgs(
          rest,
          { ...HELP_OPTION, stdin: { type: 'boolean' } },
          usage,
          { min: 3, max: 3 },
        );
        if (values.help) return showHelp(ctx, usage);
        const [verb, name, assignment] = positionals as [string, string, string];
        if (verb !== 'set')
          throw new UsageError(`unknown settings verb ${JSON.stringify(verb)}`, usage);
        const eq = assignment.indexOf('=');
        if (eq === 0) throw new UsageError('expected KEY=VALUE, found no KEY', usage);
        if (eq > 0 && values.stdin)
          throw new UsageError('KEY=VALUE and --stdin: give the value one way', usage);
        if (eq < 0 && !values.stdin)
          throw new UsageError(
            `expected KEY=VALUE, or KEY with --stdin, found ${JSON.stringify(assignment)}`,
            usage,
          );
        const key = eq < 0 ? assignment : assignment.slice(0, eq);
        const value = eq < 0 ? await readStdinValue(ctx, key, usage) : assignment.slice(eq + 1);
        const json = await callGateway(
          ctx.env,
          usage,
          'PUT',
          `/integrations/${encodeURIComponent(name)}/settings/${encodeURIComponent(key)}`,
          { value },
        );
        ctx.out(
          `set ${name}/${key}${json.secret ? ' (secret, stored encrypted)' : ''}; run "switchboard integrations reload ${name}" to apply`,
        );
        return 0;
      }
      default:
        throw new UsageError(
          sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`,
          usage,
        );
    }
  },
};
