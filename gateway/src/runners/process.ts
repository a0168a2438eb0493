import type { Runner as RunnerConfig } from '@switchboard/policy';
import { SwitchboardError } from '../errors.ts';
import { runChild } from './child.ts';
import { agentEnv } from './env.ts';
import { writeAgentFiles, writePromptFile } from './files.ts';
import {
  checkArgs,
  checkCommand,
  expandArgs,
  placeholderValues,
  type Runner,
  type RunRequest,
  type RunResult,
  resolveCommand,
} from './runner.ts';

/**
 * The process driver: the profile's command, its args with placeholders filled in, started in
 * the task's working folder (or the profile's `cwd`) with HOME set to that folder, so the
 * agents' default config locations find the bundle. Environment: see env.ts. The prompt is
 * also in `prompt.txt` there (`{prompt_file}`), and on stdin with `stdin: prompt`. The
 * command `{switchboard}` is the gateway's own CLI (runner.ts).
 */
export type ProcessRunnerConfig = Extract<RunnerConfig, { driver: 'process' }>;

export interface ProcessRunnerOptions {
  /** Where PATH and LANG come from; the gateway's environment unless a test says otherwise. */
  hostEnv?: NodeJS.ProcessEnv;
  graceMs?: number;
}

export class ProcessRunner implements Runner {
  constructor(
    private readonly config: ProcessRunnerConfig,
    private readonly options: ProcessRunnerOptions = {},
  ) {
    // The schema asks for it unless the profile names an agent, whose preset fills it in.
    if (config.command === undefined)
      throw new SwitchboardError(
        'profile_invalid',
        'runner.command: expected the program to start',
      );
    checkCommand(config.command, 'process');
    checkArgs(config.args ?? [], 'runner.args');
  }

  async run(request: RunRequest): Promise<RunResult> {
    const { config } = this;
    await writePromptFile(request.workdir, request.prompt);
    await writeAgentFiles(request.workdir, request.files ?? []);
    const { command, prefix } = resolveCommand(config.command ?? '');
    const values = placeholderValues(request, request.workdir);
    return runChild({
      command,
      args: [...prefix, ...expandArgs(config.args ?? [], values)],
      cwd: config.cwd ?? request.workdir,
      env: agentEnv({
        host: this.options.hostEnv ?? process.env,
        home: request.workdir,
        profile: config.env,
        secrets: request.secrets,
        bundle: request.bundle.env,
      }),
      ...(config.stdin === 'prompt' ? { input: request.prompt } : {}),
      timeoutMs: request.timeoutMs,
      signal: request.signal,
      onLine: request.onLine,
      maxLineChars: request.maxLineChars,
      graceMs: this.options.graceMs,
    });
  }
}
