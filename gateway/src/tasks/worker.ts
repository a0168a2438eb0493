import type { Policy, Profile } from '@switchboard/policy';
import type { EventBus } from '../db/bus.ts';
import type { Pool } from '../db/connect.ts';
import {
  decodeNotices,
  type PublishTaskEvents,
  TASK_EVENTS_CHANNEL,
  TaskEventWaker,
} from '../events/task-events.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import type { Logger } from '../log.ts';
import { type LeasedQueue, QueueWorker, type Slot } from '../queue/worker.ts';
import { buildBundle } from '../runners/bundle.ts';
import { createRunner } from '../runners/drivers.ts';
import { removeWorkdir, writeBundle } from '../runners/files.ts';
import { resolveRunner } from '../runners/presets/index.ts';
import type { Runner, RunResult } from '../runners/runner.ts';
import { traceparentEnv } from '../telemetry/child-env.ts';
import { inSpan } from '../telemetry/spans.ts';
import type { TokenService } from '../tokens/service.ts';
import { prepareAgentContext } from './agent-context.ts';
import { agentLines } from './agent-lines.ts';
import { bundleInput, grantTask, TOKEN_MARGIN_MS, taskTimeoutMs } from './grant.ts';
import { NO_REDACTION, type OutputRedactor, outputRedactor } from './output-redaction.ts';
import { claimTasks, extendLease, recoverExpiredLeases } from './queue.ts';
import { runSecrets } from './run-secrets.ts';
import { taskRunSpan } from './run-span.ts';
import { readAgentResult } from './sql/agent-result.ts';
import type { LeasedTaskRow } from './store.ts';
import { AgentFailed, completeWith, endFailedRun, endRun, type Stop } from './worker-end.ts';
import { OutputSink } from './worker-output.ts';

/**
 * The task worker (ARCHITECTURE §1 "runner claims", issue 5): claims pending tasks of every
 * policy profile, runs each one's agent with its injection bundle, and ends the task with the
 * lease it holds. Any number of gateways run one each on a database; the queue's lease makes
 * them share the work, and everything they learn from each other (a new task, a cancel, an
 * agent's task_complete on another replica) arrives as task events on the bus.
 *
 * Shutdown: claiming stops, running agents are stopped at once (process group killed, 2 s
 * grace) and their tasks put back to pending for another gateway; an agent's recorded
 * task_complete still completes its task. Waiting for agents instead would hold a rolling
 * deploy for up to a profile timeout (minutes), far past the 10 s platforms allow.
 */

/** A lease of 30 s, extended every 10 s: two heartbeats may fail before another gateway takes over. */
export const LEASE_MS = 30_000;
/** New tasks are also looked for this often (a lost notice, or a task whose run_at just came). */
const POLL_MS = 1_000;
/** Expired leases of dead gateways are taken back this often (and once at start). */
const RECOVER_MS = 5_000;
/** A profile without `concurrency:` runs at most this many agents at once, cluster-wide. */
export const DEFAULT_CONCURRENCY = 4;
/** After task_complete, the agent has this long to exit by itself before it is stopped. */
const COMPLETE_GRACE_MS = 5_000;

export interface WorkerDeps {
  sql: Pool;
  log: Logger;
  registry: IntegrationRegistry;
  tokens: TokenService;
  bus: EventBus;
  publish: PublishTaskEvents;
  publicUrl: () => string;
  /** Decrypts the profiles' secrets (settings/profile-secrets.ts) for their agents. */
  masterKey: Buffer;
  /** This gateway instance, as lease owner. */
  owner: string;
  leaseMs?: number;
  /** The environment agents' PATH and LANG come from (runners/env.ts). */
  hostEnv?: NodeJS.ProcessEnv;
  /** Writes this process's batched task:tool_use events, so they come before the task's end. */
  flushToolEvents?: () => Promise<void>;
}

interface Job {
  task: LeasedTaskRow;
  profile: string;
  config: Profile;
  policy: Policy;
  runner: Runner;
  abort: AbortController;
  stop?: Stop;
  completing?: NodeJS.Timeout;
  ownSeqs: Set<string>;
}

/** One profile of the policy: its concurrency is the limit of its key. */
interface ProfileSlot extends Slot {
  profile: Profile;
  policy: Policy;
}

export class TaskWorker {
  private readonly runners = new Map<
    string,
    { config: Profile['runner']; runner: Runner | undefined }
  >();
  private worker: QueueWorker<Job, ProfileSlot> | undefined;
  private waker: TaskEventWaker | undefined;
  private closing: Promise<void> | undefined;
  private readonly leaseMs: number;

  private constructor(private readonly deps: WorkerDeps) {
    this.leaseMs = deps.leaseMs ?? LEASE_MS;
  }

  static async start(deps: WorkerDeps): Promise<TaskWorker> {
    const worker = new TaskWorker(deps);
    worker.waker = await TaskEventWaker.start(deps.bus, deps.log);
    worker.worker = await QueueWorker.start(worker.queue());
    return worker;
  }

  /** Number of agents this gateway runs now. */
  get running(): number {
    return this.worker?.running ?? 0;
  }

  /** Stop claiming and stop every agent (their tasks go back to pending); see the class comment. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.worker?.close();
      await this.waker?.close();
    })();
    return this.closing;
  }

  /** What the task queue supplies to the shared worker loop (queue/worker.ts). */
  private queue(): LeasedQueue<Job, ProfileSlot> {
    const { deps } = this;
    return {
      name: 'task',
      log: deps.log,
      idField: 'taskId',
      id: (job) => job.task.id,
      pollMs: POLL_MS,
      recoverMs: RECOVER_MS,
      slots: () => {
        const policy = deps.registry.currentPolicy();
        if (!policy) return [];
        return Object.entries(policy.profiles).map(([key, profile]) => ({
          key,
          limit: profile.concurrency ?? DEFAULT_CONCURRENCY,
          profile,
          policy,
        }));
      },
      claim: async (slot, limit) => {
        const runner = this.runnerFor(slot.key, slot.profile);
        if (!runner) return [];
        const tasks = await claimTasks(
          deps.sql,
          {
            profile: slot.key,
            owner: deps.owner,
            leaseMs: this.leaseMs,
            concurrency: slot.limit,
            limit,
          },
          deps.publish,
        );
        return tasks.map((task) => ({
          task,
          profile: slot.key,
          config: slot.profile,
          policy: slot.policy,
          runner,
          abort: new AbortController(),
          ownSeqs: new Set<string>(),
        }));
      },
      // One span per run, continuing the trace of whatever created the task (run-span.ts).
      handle: (job) =>
        inSpan('task run', taskRunSpan(job.task, job.profile), async (span) => {
          let failure: AgentFailed | undefined;
          try {
            failure = await this.runJob(job);
          } catch (error) {
            deps.log.error({ err: error, taskId: job.task.id }, 'task run failed');
          } finally {
            clearTimeout(job.completing);
          }
          if (failure) throw failure;
          span.setAttribute('switchboard.task.stop', job.stop ?? 'ended');
        }),
      fail: (job, error, retryInMs) =>
        endFailedRun(
          deps,
          job,
          error as AgentFailed,
          { attempts: job.config.retry?.attempts ?? 1, retryInMs },
          this.logFor(job),
        ),
      // A profile's `retry:` (policy); without one a failed run is final (attempts 1).
      retry: {
        schedule: (job) => job.config.retry?.backoffMs ?? [],
        attempt: (job) => job.task.attempts,
      },
      renew: {
        everyMs: Math.max(100, Math.floor(this.leaseMs / 3)),
        lease: (job) => this.heartbeat(job),
      },
      recover: () => this.recover(),
      // Any committed task event may be a task:created (or an end that frees a slot): claim.
      wakeOn: {
        bus: deps.bus,
        channel: TASK_EVENTS_CHANNEL,
        accept: (payload) => decodeNotices(payload).some((n) => !this.isOwn(n.taskId, n.seq)),
      },
      stopJob: (job) => this.stopJob(job, 'shutdown'),
    };
  }

  private isOwn(taskId: string, seq: string): boolean {
    return this.worker?.get(taskId)?.ownSeqs.has(seq) ?? false;
  }

  private async recover(): Promise<number> {
    const { requeued, failed, revokedTokens } = await recoverExpiredLeases(
      this.deps.sql,
      {},
      this.deps.publish,
    );
    const ids = [...requeued, ...failed].map((t) => t.id);
    if (ids.length === 0) return 0;
    this.deps.log.warn(
      { requeued: requeued.length, failed: failed.length },
      'expired task leases recovered',
    );
    await this.deps.tokens.revoked(ids, revokedTokens);
    return ids.length;
  }

  private runnerFor(name: string, profile: Profile): Runner | undefined {
    const known = this.runners.get(name);
    if (known?.config === profile.runner) return known.runner;
    try {
      const runner = createRunner(resolveRunner(profile).runner, this.deps.hostEnv);
      this.runners.set(name, { config: profile.runner, runner });
      return runner;
    } catch (error) {
      // Remembered too, so the claim loop (every second) logs it once per policy, not per pass.
      this.runners.set(name, { config: profile.runner, runner: undefined });
      this.deps.log.error({ err: error, profile: name }, 'profile runner invalid; its tasks wait');
      return undefined;
    }
  }

  private logFor(job: Job): Logger {
    return this.deps.log.child({ taskId: job.task.id, profile: job.profile });
  }

  private stopJob(job: Job, why: Stop): void {
    job.stop ??= why;
    job.abort.abort();
  }

  /** Something happened to the task (cancel, task_complete): look at its row. */
  private async check(job: Job): Promise<void> {
    const state = await readAgentResult(this.deps.sql, job.task.id);
    if (state?.status !== 'running') return this.stopJob(job, 'cancelled');
    if (state.agentResult !== null && job.completing === undefined) {
      job.completing = setTimeout(() => this.stopJob(job, 'completing'), COMPLETE_GRACE_MS);
      job.completing.unref();
    }
  }

  private async heartbeat(job: Job): Promise<void> {
    const lease = { taskId: job.task.id, token: job.task.leaseToken };
    const extended = await extendLease(this.deps.sql, lease, this.leaseMs);
    if (extended.outcome === 'lease_lost') {
      this.stopJob(job, extended.task.status === 'cancelled' ? 'cancelled' : 'lease_lost');
    }
  }

  private async runJob(job: Job): Promise<AgentFailed | undefined> {
    const { task, config: profile, policy, runner } = job;
    const log = this.logFor(job);
    // A result the agent of an earlier attempt handed in before its gateway died stands.
    const prior = await readAgentResult(this.deps.sql, task.id);
    if (prior?.agentResult != null) {
      await completeWith(this.deps, job, prior.agentResult, log);
      return undefined;
    }
    const timeoutMs = taskTimeoutMs(task, profile, policy);
    // Before any token is minted: a profile whose secret is not set cannot run its agent.
    const secrets = await runSecrets(
      this.deps.sql,
      this.deps.masterKey,
      { profile: job.profile, names: job.config.secrets ?? [] },
      log,
    );
    if (secrets instanceof AgentFailed) return secrets;
    const redactor: OutputRedactor =
      Object.keys(secrets).length > 0 ? outputRedactor(secrets) : NO_REDACTION;
    let workdir: string | undefined;
    let unwatch: (() => void) | undefined;
    let run: RunResult;
    let output: OutputSink | undefined;
    try {
      const grant = await grantTask(this.deps, {
        taskId: task.id,
        sessionId: task.sessionId,
        scope: task.scope,
        profileTools: profile.tools,
        ttlMs: timeoutMs + TOKEN_MARGIN_MS,
        builtin: true,
      });
      const bundle = buildBundle(bundleInput(grant, task, this.deps.publicUrl()));
      // TRACEPARENT: the agent's requests (its tools/call `_meta`) continue the run's span.
      Object.assign(bundle.env, traceparentEnv());
      workdir = await writeBundle(bundle);
      unwatch = this.waker?.watch(task.id, (seq) => {
        if (!job.ownSeqs.has(seq)) void this.check(job).catch(() => {});
      });
      // A cancel or task_complete committed between the claim and the watch.
      await this.check(job);
      output = new OutputSink(
        this.deps.sql,
        this.deps.publish,
        log,
        task.id,
        (seqs) => {
          for (const s of seqs) job.ownSeqs.add(s);
        },
        redactor.line,
      );
      // runnerFor resolved this profile already; a throw here would have stopped it there.
      const { preset } = resolveRunner(profile);
      const lines = agentLines(output, preset, log, redactor.line);
      // Preamble, session history and skills where the agent reads them (agent-context.ts).
      const { prompt, files } = await prepareAgentContext(
        this.deps,
        task,
        grant.integrations.map((i) => i.name),
        preset?.context,
        log,
        (seq) => job.ownSeqs.add(seq),
      );
      log.info({ timeoutMs, integrations: grant.integrations.length }, 'agent starting');
      run = await runner.run({
        prompt,
        files,
        bundle,
        workdir,
        timeoutMs,
        secrets,
        signal: job.abort.signal,
        onLine: (line) => lines.onLine(line),
        maxLineChars: lines.maxLineChars,
      });
      const [answer, failure] = [lines.answer(), lines.failure()];
      run = { ...run, ...(answer !== undefined && { answer }), ...(failure && { failure }) };
    } catch (error) {
      run = {
        reason: 'spawn_failed',
        exitCode: null,
        signal: null,
        stdoutTail: '',
        error: `the agent could not be prepared: ${(error as Error).message}`,
      };
    } finally {
      unwatch?.();
    }
    // The tail becomes the task's result: no secret value in it either (output-redaction.ts).
    run = {
      ...run,
      stdoutTail: redactor.tail(run.stdoutTail),
      ...(run.answer === undefined ? {} : { answer: redactor.line(run.answer) }),
      ...(run.failure === undefined ? {} : { failure: redactor.line(run.failure) }),
      ...(run.error === undefined ? {} : { error: redactor.line(run.error) }),
    };
    try {
      const stats = await output?.close();
      log.info(
        { reason: run.reason, exitCode: run.exitCode, stop: job.stop, ...stats },
        'agent ended',
      );
      return await endRun(this.deps, job, run, timeoutMs, log);
    } finally {
      if (workdir) await removeWorkdir(workdir).catch(() => {});
    }
  }
}
