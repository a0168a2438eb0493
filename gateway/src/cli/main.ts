import { EXIT, SwitchboardError, UsageError } from '../errors.ts';
import { agent } from './agent.ts';
import { approvals } from './approvals.ts';
import type { CliContext, Command } from './command.ts';
import { connect } from './connect.ts';
import { deliveries } from './deliveries.ts';
import { dev } from './dev.ts';
import { doctor } from './doctor.ts';
import { egress } from './egress.ts';
import { init } from './init.ts';
import { integrations } from './integrations.ts';
import { keys } from './keys.ts';
import { mcpConfig } from './mcp-config.ts';
import { migrate } from './migrate.ts';
import { outbox } from './outbox.ts';
import { profiles } from './profiles.ts';
import { start } from './start.ts';
import { subscriptions } from './subscriptions.ts';
import { task } from './task.ts';
import { token } from './token.ts';
import { trace } from './trace.ts';
import { CLI_VERSION } from './version.ts';
import { webhook } from './webhook.ts';

export const COMMANDS: Command[] = [
  start,
  migrate,
  doctor,
  dev,
  keys,
  init,
  integrations,
  token,
  task,
  deliveries,
  egress,
  webhook,
  trace,
  outbox,
  subscriptions,
  profiles,
  approvals,
  mcpConfig,
  agent,
  connect,
];

const usage = `Usage: switchboard <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(15)}${c.summary}`).join('\n')}

Run "switchboard <command> --help" (or "switchboard help <command>") for a command's options;
"switchboard --version" prints the version.`;

const HELP_FLAGS = new Set(['--help', '-h']);

/** `--help` or `-h` anywhere before a `--` terminator: it wins over every other argument. */
function asksForHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => HELP_FLAGS.has(a));
}

function findCommand(name: string): Command {
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}`, usage);
  return command;
}

/** Runs one command line; returns the exit code (0 ok, 1 failure, 2 usage or configuration). */
export async function runCli(argv: string[], ctx: CliContext): Promise<number> {
  const [name, ...args] = argv;
  try {
    if (name === undefined) throw new UsageError('missing command', usage);
    if (name === '--version' || name === 'version') {
      ctx.out(CLI_VERSION);
      return EXIT.ok;
    }
    if (HELP_FLAGS.has(name) || name === 'help') {
      ctx.out(
        args[0] === undefined || HELP_FLAGS.has(args[0]) ? usage : findCommand(args[0]).usage,
      );
      return EXIT.ok;
    }
    const command = findCommand(name);
    // One place answers --help for every command and subcommand, before their own argument
    // checks (`task end --help` has no ID) and before any database or gateway is reached.
    if (asksForHelp(args)) {
      ctx.out(command.usage);
      return EXIT.ok;
    }
    return await command.run(args, ctx);
  } catch (error) {
    if (error instanceof UsageError) {
      ctx.err(`switchboard: ${error.message}\n\n${error.usage}`);
      return error.exitCode;
    }
    // config_invalid exits 2 (EXIT.usage), other codes 1: the code's row says (error-codes.ts).
    if (error instanceof SwitchboardError) {
      ctx.err(`switchboard: ${error.message}`);
      return error.exitCode;
    }
    ctx.err(`switchboard: unexpected error: ${(error as Error).stack ?? String(error)}`);
    return EXIT.failure;
  }
}

export const processContext: CliContext = {
  env: process.env,
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  stdin: process.stdin,
};
