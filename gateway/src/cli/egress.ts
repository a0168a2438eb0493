import { UsageError } from '../errors.ts';
import { type Command, HELP_OPTION, parseCommandArgs, showHelp } from './command.ts';
import { callGateway } from './gateway-api.ts';
import { formatTable } from './table.ts';

const usage = `Usage:
  switchboard egress list [--integration NAME] [--outcome allowed|refused|failed] [--host HOST]
                          [--task ID] [--since TIME] [--limit N] [--before ID] [--json]

The egress proxy's connection log, newest first: every connection an integration's server or
process opened through the gateway (allowed, refused with the reason, or failed), with the
bytes each way and how long it lasted. With more rows than --limit (100; at most 500), the last
line names the --before value of the next page.
Through the running gateway (SWITCHBOARD_URL) with SWITCHBOARD_API_KEY (or SWITCHBOARD_ADMIN_KEY):
scope audit:read.`;

interface Connection {
  id: string;
  startedAt: string;
  integration: string | null;
  taskId: string | null;
  kind: string;
  host: string;
  port: number;
  address: string | null;
  outcome: string;
  reason: string | null;
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
  mtls: boolean;
}

function table(items: Connection[]): string {
  return formatTable(
    ['ID', 'STARTED', 'INTEGRATION', 'HOST', 'OUTCOME', 'REASON', 'UP', 'DOWN', 'MS', 'TASK'],
    items.map((c) => [
      c.id,
      c.startedAt.replace('T', ' ').slice(0, 19),
      c.integration ?? '-',
      `${c.host}:${c.port}${c.mtls ? ' (mtls)' : ''}`,
      c.outcome,
      c.reason ?? '-',
      String(c.bytesUp),
      String(c.bytesDown),
      String(c.durationMs),
      c.taskId ?? '-',
    ]),
  );
}

export const egress: Command = {
  name: 'egress',
  summary: "list the egress proxy's connection log",
  usage,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    if (sub === '--help' || sub === '-h' || sub === 'help') return showHelp(ctx, usage);
    if (sub !== 'list') {
      throw new UsageError(
        sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`,
        usage,
      );
    }
    const { values } = parseCommandArgs(
      rest,
      {
        ...HELP_OPTION,
        json: { type: 'boolean' },
        integration: { type: 'string' },
        outcome: { type: 'string' },
        host: { type: 'string' },
        task: { type: 'string' },
        since: { type: 'string' },
        limit: { type: 'string' },
        before: { type: 'string' },
      },
      usage,
    );
    if (values.help) return showHelp(ctx, usage);
    const query = new URLSearchParams();
    for (const key of [
      'integration',
      'outcome',
      'host',
      'task',
      'since',
      'limit',
      'before',
    ] as const) {
      const value = values[key];
      if (value !== undefined) query.set(key, value);
    }
    const suffix = query.size > 0 ? `?${query}` : '';
    const json = await callGateway(ctx.env, usage, 'GET', `/egress${suffix}`);
    if (values.json) {
      ctx.out(JSON.stringify(json, null, 2));
      return 0;
    }
    const connections = json.connections as Connection[];
    ctx.out(connections.length === 0 ? 'no connections' : table(connections));
    if (typeof json.next === 'string') ctx.out(`more: --before ${json.next}`);
    return 0;
  },
};
