import { setTimeout as wait } from 'node:timers/promises';
import { z } from 'zod';
import { cliEnv, runCli } from './cli.ts';
import { jobManifest, type KubernetesRunnerConfig } from './kubernetes-manifest.ts';
import {
  checkArgs,
  checkCommand,
  type Runner,
  type RunRequest,
  type RunResult,
  Tail,
} from './runner.ts';

/**
 * The kubernetes driver: one Job per task through the `kubectl` on PATH (and its usual
 * KUBECONFIG). `kubectl apply -f -` with the manifest on stdin, so no token is ever in argv or
 * on disk; then `kubectl get job -o json` every `pollMs` until the Job is Complete or Failed
 * (activeDeadlineSeconds enforces the timeout on the cluster: reason DeadlineExceeded);
 * then the logs, the pod's exit code, and `kubectl delete` of the Job, Secret and ConfigMap
 * whatever happened. Output arrives after the Job ends, not line by line while it runs.
 *
 * Tests run it against a fake `kubectl` (test/fixtures/fake-bin): no cluster exists there.
 */
export type { KubernetesRunnerConfig } from './kubernetes-manifest.ts';

/** A Job answers status changes within seconds; polling faster only loads the API server. */
export const POLL_MS = 2_000;
/** Beyond the Job's own deadline: time for the cluster to report it (pull, schedule, status). */
export const REPORT_GRACE_MS = 60_000;

export interface KubernetesRunnerOptions {
  hostEnv?: NodeJS.ProcessEnv;
  pollMs?: number;
}

const jobStatus = z.object({
  status: z
    .object({
      conditions: z
        .array(z.object({ type: z.string(), status: z.string(), reason: z.string().optional() }))
        .optional(),
    })
    .optional(),
});
const podList = z.object({
  items: z.array(
    z.object({
      status: z
        .object({
          containerStatuses: z
            .array(
              z.object({
                state: z
                  .object({
                    terminated: z
                      .object({ exitCode: z.number(), signal: z.number().optional() })
                      .optional(),
                  })
                  .optional(),
              }),
            )
            .optional(),
        })
        .optional(),
    }),
  ),
});

type Outcome = 'complete' | 'failed' | 'timeout' | 'cancelled';

function parseJson<T>(schema: z.ZodType<T>, text: string): T | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Waits `ms`, or less when `signal` aborts; never rejects. */
const sleep = (ms: number, signal: AbortSignal | undefined): Promise<void> =>
  wait(ms, undefined, signal ? { signal } : {}).catch(() => {});

export class KubernetesRunner implements Runner {
  constructor(
    private readonly config: KubernetesRunnerConfig,
    private readonly options: KubernetesRunnerOptions = {},
  ) {
    checkCommand(config.command, 'kubernetes');
    checkArgs(config.args ?? [], 'runner.args');
  }

  private kubectl(args: string[], input?: string) {
    const ns = this.config.namespace ? ['--namespace', this.config.namespace] : [];
    const env = cliEnv(this.options.hostEnv ?? process.env);
    return runCli('kubectl', [...args, ...ns], { env, input });
  }

  async run(request: RunRequest): Promise<RunResult> {
    const none = { exitCode: null, signal: null, stdoutTail: '' };
    if (request.signal?.aborted) return { reason: 'cancelled', ...none };
    const { name, list } = jobManifest(this.config, request);
    const applied = await this.kubectl(['apply', '-f', '-'], JSON.stringify(list));
    if (applied.code !== 0) {
      if (applied.code !== null) await this.cleanUp(name); // a partial apply leaves objects
      const why = applied.stderr.trim() || `exit code ${applied.code}`;
      return {
        reason: 'spawn_failed',
        ...none,
        error: applied.code === null ? why : `kubectl apply failed: ${why}`,
      };
    }
    try {
      const outcome = await this.watch(name, request);
      const tail = new Tail();
      const logs = await this.kubectl(['logs', `job/${name}`, '--all-containers']);
      if (logs.code === 0)
        for (const line of logs.stdout.split('\n')) {
          if (line === '') continue;
          tail.push(line);
          request.onLine({ stream: 'stdout', line });
        }
      const exitCode = outcome === 'complete' ? 0 : await this.exitCode(name);
      return {
        reason: outcome === 'complete' || outcome === 'failed' ? 'exited' : outcome,
        exitCode,
        signal: null,
        stdoutTail: tail.toString(),
      };
    } finally {
      await this.cleanUp(name);
    }
  }

  private async watch(name: string, request: RunRequest): Promise<Outcome> {
    const deadline = Date.now() + request.timeoutMs + REPORT_GRACE_MS;
    const pollMs = this.options.pollMs ?? POLL_MS;
    for (;;) {
      if (request.signal?.aborted) return 'cancelled';
      if (Date.now() > deadline) return 'timeout';
      const got = await this.kubectl(['get', 'job', name, '-o', 'json']);
      const job = got.code === 0 ? parseJson(jobStatus, got.stdout) : undefined;
      for (const c of job?.status?.conditions ?? []) {
        if (c.status !== 'True') continue;
        if (c.type === 'Complete') return 'complete';
        if (c.type === 'Failed') return c.reason === 'DeadlineExceeded' ? 'timeout' : 'failed';
      }
      await sleep(pollMs, request.signal);
    }
  }

  private async exitCode(name: string): Promise<number | null> {
    const got = await this.kubectl(['get', 'pods', '--selector', `job-name=${name}`, '-o', 'json']);
    const pods = got.code === 0 ? parseJson(podList, got.stdout) : undefined;
    return pods?.items[0]?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode ?? null;
  }

  private async cleanUp(name: string): Promise<void> {
    // Background deletion also removes the Job's pods; --wait=false: the task is over for us.
    await this.kubectl([
      'delete',
      'job,secret,configmap',
      name,
      '--ignore-not-found',
      '--wait=false',
    ]);
  }
}
