import { UsageError } from '../errors.ts';
import { type Command, HELP_OPTION, parseCommandArgs, showHelp } from './command.ts';
import { callGateway } from './gateway-api.ts';

const usage = `Usage:
  switchboard task end ID [--result TEXT]
  switchboard task end ID --cancel [--reason TEXT]

Ends a running task, complete (default) or cancelled; its tokens are revoked at once.
Asks the running gateway (SWITCHBOARD_URL) with SWITCHBOARD_API_KEY (scope tasks:write).`;

export const task: Command = {
  name: 'task',
  summary: 'end a task (revokes its tokens)',
  usage,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    if (sub === '--help' || sub === '-h' || sub === 'help') return showHelp(ctx, usage);
    if (sub !== 'end') {
      throw new UsageError(
        sub ? `unknown subcommand ${JSON.stringify(sub)}` : 'missing subcommand',
        usage,
      );
    }
    const { values, positionals } = parseCommandArgs(
      rest,
      {
        ...HELP_OPTION,
        cancel: { type: 'boolean' },
        result: { type: 'string' },
        reason: { type: 'string' },
      },
      usage,
      { min: 1, max: 1 },
    );
    if (values.help) return showHelp(ctx, usage);
    if (values.cancel && values.result !== undefined) {
      throw new UsageError('--result is for completing; a cancelled task takes --reason', usage);
    }
    if (!values.cancel && values.reason !== undefined) {
      throw new UsageError('--reason goes with --cancel', usage);
    }
    const id = encodeURIComponent(positionals[0]!);
    const json = await callGateway(
      ctx.env,
      usage,
      'POST',
      `/tasks/${id}/${values.cancel ? 'cancel' : 'complete'}`,
      values.cancel ? { reason: values.reason } : { result: values.result },
    );
    const ended = json.task as { id: string; status: string };
    ctx.out(`task ${ended.id} ${ended.status}; its tokens are revoked`);
    return 0;
  },
};
