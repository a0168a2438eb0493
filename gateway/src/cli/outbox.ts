import { UsageError } from '../errors.ts';
import { type Command, HELP_OPTION, parseCommandArgs, showHelp } from './command.ts';
import { callGateway } from './gateway-api.ts';
import { formatTable } from './table.ts';

const usage = `Usage:
  switchboard outbox list [--status S] [--kind dispatch|event] [--task ID] [--limit N] [--json]
  switchboard outbox show ID
  switchboard outbox redrive ID
  switchboard outbox redrive --all

Asks the running gateway (SWITCHBOARD_URL) with SWITCHBOARD_API_KEY (or SWITCHBOARD_ADMIN_KEY):
scopes outbox:read / outbox:write. Redrive puts a dead entry back to pending with its attempts
reset; --all redrives every dead entry.`;

interface Entry {
  id: string;
  kind: string;
  taskId: string | null;
  target: { type?: string; url?: string; integration?: string; tool?: string };
  status: string;
  attempts: number;
  maxAttempts: number;
  nextAttemptAt: string;
  lastError: string | null;
}

const table = (entries: Entry[]) =>
  formatTable(
    ['ID', 'KIND', 'TARGET', 'STATUS', 'ATTEMPTS', 'TASK', 'LAST ERROR'],
    entries.map((e) => [
      e.id,
      e.kind,
      e.target.type === 'subscription'
        ? (e.target.url ?? '-')
        : e.target.type === 'hook'
          ? `hook ${e.target.integration}:${e.target.tool}`
          : (e.target.type ?? '-'),
      e.status,
      `${e.attempts}/${e.maxAttempts}`,
      e.taskId ?? '-',
      e.lastError ?? '-',
    ]),
  );

export const outbox: Command = {
  name: 'outbox',
  summary: 'list, show and redrive task results and events on their way out',
  usage,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    if (sub === '--help' || sub === '-h' || sub === 'help') return showHelp(ctx, usage);
    const id = (positionals: string[]) => encodeURIComponent(positionals[0]!);
    switch (sub) {
      case 'list': {
        const { values } = parseCommandArgs(
          rest,
          {
            ...HELP_OPTION,
            status: { type: 'string' },
            kind: { type: 'string' },
            task: { type: 'string' },
            limit: { type: 'string' },
            json: { type: 'boolean' },
          },
          usage,
        );
        if (values.help) return showHelp(ctx, usage);
        const query = new URLSearchParams();
        if (values.status) query.set('status', values.status);
        if (values.kind) query.set('kind', values.kind);
        if (values.task) query.set('taskId', values.task);
        if (values.limit) query.set('limit', values.limit);
        const qs = query.size > 0 ? `?${query}` : '';
        const json = await callGateway(ctx.env, usage, 'GET', `/outbox${qs}`);
        ctx.out(values.json ? JSON.stringify(json, null, 2) : table(json.entries as Entry[]));
        return 0;
      }
      case 'show': {
        const { values, positionals } = parseCommandArgs(rest, HELP_OPTION, usage, {
          min: 1,
          max: 1,
        });
        if (values.help) return showHelp(ctx, usage);
        const json = await callGateway(ctx.env, usage, 'GET', `/outbox/${id(positionals)}`);
        ctx.out(JSON.stringify(json.entry, null, 2));
        return 0;
      }
      case 'redrive': {
        const { values, positionals } = parseCommandArgs(
          rest,
          { ...HELP_OPTION, all: { type: 'boolean' } },
          usage,
          { min: 0, max: 1 },
        );
        if (values.help) return showHelp(ctx, usage);
        if (values.all === (positionals.length === 1)) {
          throw new UsageError('expected an entry ID or --all (not both)', usage);
        }
        if (values.all) {
          const json = await callGateway(ctx.env, usage, 'POST', '/outbox/redrive');
          ctx.out(`redrove ${json.redriven} dead entr${json.redriven === 1 ? 'y' : 'ies'}`);
          return 0;
        }
        const json = await callGateway(
          ctx.env,
          usage,
          'POST',
          `/outbox/${id(positionals)}/redrive`,
        );
        ctx.out(table([json.entry as Entry]));
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
