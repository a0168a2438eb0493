import { UsageError } from '../errors.ts';
import { type Command, HELP_OPTION, parseCommandArgs, showHelp } from './command.ts';
import { callGateway } from './gateway-api.ts';
import { formatTable } from './table.ts';

const usage = `Usage:
  switchboard subscriptions create --url URL --types TYPE[,TYPE…] [--description TEXT]
  switchboard subscriptions list [--json]
  switchboard subscriptions delete ID

Task events matching a type ("task:done", "task:*", "*") are POSTed to URL, signed with
Standard Webhooks; "create" prints the signing secret once. Asks the running gateway
(SWITCHBOARD_URL) with SWITCHBOARD_API_KEY: scopes subscriptions:read / subscriptions:write.`;

interface Subscription {
  id: string;
  url: string;
  types: string[];
  description: string | null;
  createdAt: string;
}

const table = (items: Subscription[]) =>
  formatTable(
    ['ID', 'URL', 'TYPES', 'DESCRIPTION'],
    items.map((s) => [s.id, s.url, s.types.join(','), s.description ?? '-']),
  );

export const subscriptions: Command = {
  name: 'subscriptions',
  summary: 'create, list and delete signed webhooks of task events',
  usage,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    if (sub === '--help' || sub === '-h' || sub === 'help') return showHelp(ctx, usage);
    switch (sub) {
      case 'create': {
        const { values } = parseCommandArgs(
          rest,
          {
            ...HELP_OPTION,
            url: { type: 'string' },
            types: { type: 'string' },
            description: { type: 'string' },
          },
          usage,
        );
        if (values.help) return showHelp(ctx, usage);
        if (!values.url || !values.types) throw new UsageError('expected --url and --types', usage);
        const json = await callGateway(ctx.env, usage, 'POST', '/subscriptions', {
          url: values.url,
          types: values.types.split(',').filter((t) => t !== ''),
          ...(values.description ? { description: values.description } : {}),
        });
        ctx.out(table([json.subscription as Subscription]));
        ctx.out(`secret (shown once, verify deliveries with it): ${json.secret}`);
        return 0;
      }
      case 'list': {
        const { values } = parseCommandArgs(
          rest,
          { ...HELP_OPTION, json: { type: 'boolean' } },
          usage,
        );
        if (values.help) return showHelp(ctx, usage);
        const json = await callGateway(ctx.env, usage, 'GET', '/subscriptions');
        ctx.out(
          values.json ? JSON.stringify(json, null, 2) : table(json.subscriptions as Subscription[]),
        );
        return 0;
      }
      case 'delete': {
        const { values, positionals } = parseCommandArgs(rest, HELP_OPTION, usage, {
          min: 1,
          max: 1,
        });
        if (values.help) return showHelp(ctx, usage);
        await callGateway(
          ctx.env,
          usage,
          'DELETE',
          `/subscriptions/${encodeURIComponent(positionals[0]!)}`,
        );
        ctx.out(`deleted subscription ${positionals[0]}`);
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
