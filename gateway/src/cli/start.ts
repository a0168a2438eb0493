import { runGateway } from '../main.ts';
import { type Command, HELP_OPTION, parseCommandArgs } from './command.ts';

const usage = `Usage: switchboard start

Run the gateway: open the database (embedded PGlite in SWITCHBOARD_DATA_DIR unless DATABASE_URL
is set), apply pending migrations, then serve HTTP on HOST:PORT until SIGTERM or SIGINT.
Configuration comes from the environment; see README.md "Configuration".`;

export const start: Command = {
  name: 'start',
  summary: 'run the gateway (migrates first)',
  usage,
  async run(args, ctx) {
    const { values } = parseCommandArgs(args, HELP_OPTION, usage);
    if (values.help) {
      ctx.out(usage);
      return 0;
    }
    await runGateway(ctx.env);
    // The gateway keeps the process alive; its signal handlers decide the exit code.
    return new Promise<number>(() => {});
  },
};
