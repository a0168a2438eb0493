import { UsageError } from '../errors.ts';
import { type Command, HELP_OPTION, parseCommandArgs, showHelp } from './command.ts';
import { callGateway } from './gateway-api.ts';
import { formatTable } from './table.ts';

const usage = `Usage:
  switchboard deliveries list [--integration NAME] [--status STATUS] [--kind webhook|schedule] [--limit N] [--json]
  switchboard deliveries show ID [--json]
  switchboard deliveries replay ID

Webhook deliveries (and manifest schedule fires) the gateway accepted, newest first; "show"
adds the headers (secrets removed), the body, the error and the tasks it created; "replay"
queues a copy to be processed again. STATUS: pending, processing, done, ignored, failed.
Through the running gateway (SWITCHBOARD_URL) with SWITCHBOARD_API_KEY (or SWITCHBOARD_ADMIN_KEY):
scopes deliveries:read / deliveries:write.`;

interface Delivery {
  id: string;
  kind: string;
  integration: string;
  endpoint: string;
  deliveryId: string;
  status: string;
  attempts: number;
  error: string | null;
  result: { tasks?: string[] } | null;
  receivedAt: string;
  replayOf: string | null;
  headers?: Record<string, string>;
  body?: string;
  tasks?: Array<{ id: string; status: string }>;
}

const clip = (text: string, n: number) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

function table(items: Delivery[]): string {
  return formatTable(
    ['ID', 'RECEIVED', 'INTEGRATION', 'ENDPOINT', 'STATUS', 'TRIES', 'TASKS', 'ERROR'],
    items.map((d) => [
      d.id,
      d.receivedAt.replace('T', ' ').slice(0, 19),
      d.integration,
      d.kind === 'schedule' ? `schedule:${d.endpoint}` : d.endpoint,
      d.status,
      String(d.attempts),
      String(d.result?.tasks?.length ?? 0),
      d.error ? clip(d.error, 80) : '-',
    ]),
  );
}

function details(d: Delivery): string {
  const lines = [
    `delivery    ${d.id}${d.replayOf ? ` (replay of ${d.replayOf})` : ''}`,
    `received    ${d.receivedAt}  ${d.integration}/${d.endpoint} (${d.kind})`,
    `sender id   ${d.deliveryId}`,
    `status      ${d.status} after ${d.attempts} attempt(s)`,
    ...(d.error ? [`error       ${d.error}`] : []),
    `tasks       ${d.tasks?.map((t) => `${t.id} (${t.status})`).join(', ') || '-'}`,
    'headers',
    ...Object.entries(d.headers ?? {}).map(([k, v]) => `  ${k}: ${v}`),
    'body',
    `  ${clip(d.body ?? '', 2_000)}`,
  ];
  return lines.join('\n');
}

export const deliveries: Command = {
  name: 'deliveries',
  summary: 'list, show and replay webhook deliveries',
  usage,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    if (sub === '--help' || sub === '-h' || sub === 'help') return showHelp(ctx, usage);
    switch (sub) {
      case 'list': {
        const { values } = parseCommandArgs(
          rest,
          {
            ...HELP_OPTION,
            json: { type: 'boolean' },
            integration: { type: 'string' },
            status: { type: 'string' },
            kind: { type: 'string' },
            limit: { type: 'string' },
          },
          usage,
        );
        if (values.help) return showHelp(ctx, usage);
        const query = new URLSearchParams();
        for (const key of ['integration', 'status', 'kind', 'limit'] as const) {
          const value = values[key];
          if (value !== undefined) query.set(key, value);
        }
        const suffix = query.size > 0 ? `?${query}` : '';
        const json = await callGateway(ctx.env, usage, 'GET', `/deliveries${suffix}`);
        ctx.out(values.json ? JSON.stringify(json, null, 2) : table(json.deliveries as Delivery[]));
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
          `/deliveries/${encodeURIComponent(positionals[0]!)}`,
        );
        ctx.out(values.json ? JSON.stringify(json, null, 2) : details(json.delivery as Delivery));
        return 0;
      }
      case 'replay': {
        const { values, positionals } = parseCommandArgs(rest, HELP_OPTION, usage, {
          min: 1,
          max: 1,
        });
        if (values.help) return showHelp(ctx, usage);
        const json = await callGateway(
          ctx.env,
          usage,
          'POST',
          `/deliveries/${encodeURIComponent(positionals[0]!)}/replay`,
        );
        const copy = json.delivery as Delivery;
        ctx.out(`queued ${copy.id} (${copy.deliveryId}), a replay of ${positionals[0]}`);
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
