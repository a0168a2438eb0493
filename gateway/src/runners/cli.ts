import { spawn } from 'node:child_process';

/**
 * Runs a CLI (docker, kubectl) to completion and collects what it printed: for short commands
 * whose answer the driver parses, not for the agent itself (child.ts). Never rejects: a
 * missing binary is `code: null` with the reason in `stderr`.
 */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Enough for `kubectl get job -o json` and a task's logs; more is cut from the front. */
const OUTPUT_MAX = 16 * 1024 * 1024;

export function runCli(
  command: string,
  args: string[],
  options: { env: Record<string, string>; input?: string },
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: options.env, shell: false });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout = (stdout + text).slice(-OUTPUT_MAX);
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr = (stderr + text).slice(-OUTPUT_MAX);
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (child.pid === undefined)
        resolve({
          code: null,
          stdout: '',
          stderr: `could not start ${command}: ${error.code === 'ENOENT' ? 'not found on PATH' : error.message}`,
        });
    });
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The environment for the docker/kubectl CLI itself: what it needs to find its daemon or
 * cluster and its own config, never the rest of the gateway's environment.
 */
const CLI_ENV =
  /^(PATH|HOME|USER|LANG|TMPDIR|KUBECONFIG|DOCKER_[A-Z_]+|XDG_[A-Z_]+|(HTTPS?|NO)_PROXY)$/;

export const isCliEnvName = (name: string): boolean => CLI_ENV.test(name);

export function cliEnv(host: NodeJS.ProcessEnv): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(host))
    if (value !== undefined && CLI_ENV.test(name)) env[name] = value;
  return env;
}

/** A name docker and kubernetes both accept (DNS-1123 label: [a-z0-9-], ≤ 63, alnum ends). */
export function taskResourceName(taskId: string): string {
  const id = taskId.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  return `switchboard-task-${id}`.slice(0, 63).replace(/-+$/, '');
}
