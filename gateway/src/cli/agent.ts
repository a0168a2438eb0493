import { readAgentBundle } from '../agent/bundle.ts';
import { isAgentError } from '../agent/errors.ts';
import { runAgent } from '../agent/run.ts';
import { UsageError } from '../errors.ts';
import { type Command, HELP_OPTION, parseCommandArgs, showHelp } from './command.ts';

const usage = `Usage:
  switchboard agent --bundle DIR [--prompt TEXT]

The reference agent (the "scripted" profile runs it). Reads DIR/switchboard.json and the token
variables it names, connects to the aggregate /mcp endpoint and the built-in switchboard server,
and takes the task prompt from task_context() (--prompt TEXT instead, when given). A prompt of
the form {"calls": [{"tool": "<integration>__<tool>", "arguments": {…}}], "result": "…"} is
performed call by call with task_progress before each, and completed with task_complete (the
result defaults to the last call's text); any other prompt lists the tools and completes with
a summary. Exit 0 complete, 1 a step failed, 2 a bad bundle or plan. One log line per step on
stderr.`;

export const agent: Command = {
  name: 'agent',
  summary: 'run the reference agent on a task bundle',
  usage,
  async run(args, ctx) {
    const { values } = parseCommandArgs(
      args,
      { ...HELP_OPTION, bundle: { type: 'string' }, prompt: { type: 'string' } },
      usage,
    );
    if (values.help) return showHelp(ctx, usage);
    if (values.bundle === undefined) throw new UsageError('missing --bundle DIR', usage);
    const log = (line: string) => ctx.err(`agent: ${line}`);
    try {
      const bundle = await readAgentBundle(values.bundle, ctx.env);
      await runAgent({ bundle, prompt: values.prompt, log });
      return 0;
    } catch (error) {
      if (!isAgentError(error)) throw error;
      log(`failed: ${error.message}`);
      return error.exitCode;
    }
  },
};
