import { z } from 'zod';
import { runBridge } from '../agent/bridge.ts';
import { UsageError } from '../errors.ts';
import { type Command, HELP_OPTION, parseCommandArgs, showHelp } from './command.ts';

const usage = `Usage:
  switchboard connect --url URL (--token-env NAME | --token TOKEN)

A stdio MCP server for agents that only speak stdio: every message on stdin goes to the
gateway's MCP endpoint URL (e.g. $SWITCHBOARD_MCP_URL) with the bearer token, and every answer
and notification comes back on stdout. Prefer --token-env (e.g. SWITCHBOARD_TOKEN): a --token
value is visible to other users in the process list. The token is never printed or logged.
Log lines go to stderr.`;

export const connect: Command = {
  name: 'connect',
  summary: 'bridge a stdio-only agent to a gateway MCP endpoint',
  usage,
  async run(args, ctx) {
    const { values } = parseCommandArgs(
      args,
      {
        ...HELP_OPTION,
        url: { type: 'string' },
        token: { type: 'string' },
        'token-env': { type: 'string' },
      },
      usage,
    );
    if (values.help) return showHelp(ctx, usage);
    const url = z.url({ protocol: /^https?$/ }).safeParse(values.url);
    if (!url.success) throw new UsageError('--url: expected an http(s) URL', usage);
    if ((values.token === undefined) === (values['token-env'] === undefined))
      throw new UsageError('expected exactly one of --token and --token-env', usage);
    const name = values['token-env'];
    const token = name === undefined ? values.token : ctx.env[name];
    // Only the variable's name is ever shown, never its value.
    if (!token) throw new UsageError(`${name ? `${name} is not set` : '--token is empty'}`, usage);
    await runBridge({
      url: new URL(url.data),
      token,
      stdin: process.stdin,
      stdout: process.stdout,
      log: (line) => ctx.err(`switchboard connect: ${line}`),
    });
    return 0;
  },
};
