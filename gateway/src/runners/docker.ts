import type { Runner as RunnerConfig } from '@switchboard/policy';
import { runChild } from './child.ts';
import { cliEnv, isCliEnvName, runCli, taskResourceName } from './cli.ts';
import { containerEnv } from './env.ts';
import { writeAgentFiles, writePromptFile } from './files.ts';
import {
  checkArgs,
  checkCommand,
  expandArgs,
  placeholderValues,
  type Runner,
  type RunRequest,
  type RunResult,
} from './runner.ts';

/**
 * The docker driver: `docker run` in the foreground through the `docker` binary on PATH, its
 * output streamed like a local agent's. The task's working folder is mounted at /workspace,
 * which is also HOME and the working directory, so the bundle sits where the process driver
 * puts it. A timeout or cancel runs `docker kill <name>`; `--rm` removes the container.
 *
 * Credentials never appear on the command line (visible in `ps` to every user): each variable
 * is passed as `-e NAME`, which makes docker read the value from its own environment (and
 * leave the variable unset if it has none), and the CLI is started with those values. Only
 * names the CLI itself reads (HOME, LANG, DOCKER_*: tool.ts) are given inline, since the CLI's
 * own values for them must stay its own; a profile's secrets (model API keys) are always passed
 * by name.
 *
 * Tests run it against a fake `docker` (test/fixtures/fake-bin): no engine exists there.
 */
export type DockerRunnerConfig = Extract<RunnerConfig, { driver: 'docker' }>;

export const CONTAINER_WORKDIR = '/workspace';

/**
 * Fixed limits (the policy schema has no fields for them yet): an agent CLI with a language
 * runtime fits in 2 GiB, one CPU keeps a 2-core host responsive, and 512 processes stop a fork
 * bomb while leaving room for builds and test runs.
 */
export const DOCKER_LIMITS = { memory: '2g', cpus: '1', pidsLimit: '512' } as const;

export interface DockerRunnerOptions {
  hostEnv?: NodeJS.ProcessEnv;
  /** The container's user; the gateway's own by default, so the 0600 bundle files are readable. */
  user?: string;
  graceMs?: number;
}

export class DockerRunner implements Runner {
  constructor(
    private readonly config: DockerRunnerConfig,
    private readonly options: DockerRunnerOptions = {},
  ) {
    checkCommand(config.command, 'docker');
    checkArgs(config.args ?? [], 'runner.args');
  }

  /** The exact argv after `docker`, and the variables the CLI must have for the `-e NAME`s. */
  plan(request: RunRequest): { argv: string[]; env: Record<string, string> } {
    const { config } = this;
    const name = taskResourceName(request.bundle.taskId);
    const host = this.options.hostEnv ?? process.env;
    // The image keeps its own PATH; the rest as for a local agent (env.ts).
    const container = containerEnv(
      CONTAINER_WORKDIR,
      config.env,
      request.bundle.env,
      request.secrets,
    );
    // A profile secret is always passed by name (the policy refuses the CLI's own names for one).
    const secretNames = new Set(Object.keys(request.secrets ?? {}));
    const argv = [
      'run',
      '--rm',
      // Keeps the container's stdin open, so the CLI passes it the prompt it is given.
      ...(config.stdin === 'prompt' ? ['--interactive'] : []),
      '--name',
      name,
      '--label',
      `switchboard.task=${request.bundle.taskId}`,
      '--label',
      `switchboard.session=${request.bundle.sessionId ?? ''}`,
      ...(config.network ? ['--network', config.network] : []),
      '--memory',
      DOCKER_LIMITS.memory,
      '--cpus',
      DOCKER_LIMITS.cpus,
      '--pids-limit',
      DOCKER_LIMITS.pidsLimit,
      '--user',
      this.options.user ?? defaultUser(),
      '--workdir',
      CONTAINER_WORKDIR,
      '--volume',
      `${request.workdir}:${CONTAINER_WORKDIR}`,
    ];
    const passed: Record<string, string> = {};
    for (const [key, value] of Object.entries(container)) {
      if (isCliEnvName(key) && !secretNames.has(key)) argv.push('--env', `${key}=${value}`);
      else {
        argv.push('--env', key);
        passed[key] = value;
      }
    }
    const values = placeholderValues(request, CONTAINER_WORKDIR, (...p) => p.join('/'));
    argv.push(
      config.image,
      ...(config.command ? [config.command] : []),
      ...expandArgs(config.args ?? [], values),
    );
    return { argv, env: { ...cliEnv(host), ...passed } };
  }

  async run(request: RunRequest): Promise<RunResult> {
    const { argv, env } = this.plan(request);
    const name = taskResourceName(request.bundle.taskId);
    // In the mounted working folder: /workspace/prompt.txt, which `{prompt_file}` names.
    await writePromptFile(request.workdir, request.prompt);
    await writeAgentFiles(request.workdir, request.files ?? []);
    return runChild({
      command: 'docker',
      args: argv,
      env,
      ...(this.config.stdin === 'prompt' ? { input: request.prompt } : {}),
      timeoutMs: request.timeoutMs,
      signal: request.signal,
      onLine: request.onLine,
      maxLineChars: request.maxLineChars,
      graceMs: this.options.graceMs,
      // The CLI in the foreground forwards signals, but a stuck CLI must not keep the container.
      onStop: async () => {
        await runCli('docker', ['kill', name], { env: cliEnv(env) });
      },
    });
  }
}

function defaultUser(): string {
  // process.getuid is undefined on Windows only, where docker runs the container as root anyway.
  return process.getuid && process.getgid ? `${process.getuid()}:${process.getgid()}` : '0:0';
}
