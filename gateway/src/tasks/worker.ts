import type { Policy, Profile } from '@switchboard/policy';
import { CoalescedRun } from '../coalesced-run.ts';
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
import { buildBundle } from '../runners/bundle.ts';
import { createRunner } from '../runners/drivers.ts';
import { removeWorkdir, writeBundle } from '../runners/files.ts';
import type { Runner, RunResult } from '../runners/runner.ts';
import type { TokenService } from '../tokens/service.ts';
import { bundleInput, grantTask, TOKEN_MARGIN_MS, taskTimeoutMs } from './grant.ts';
import {
  claimTasks,
  completeTask,
  extendLease,
  failTask,
  type LeaseResult,
  recoverExpiredLeases,
} from './queue.ts';
import { requeueForShutdown } from './requeue.ts';
import { runOutcome } from './run-outcome.ts';
import { readAgentResult } from './sql/worker.ts';
import type { LeasedTaskRow } from './store.ts';
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
  /** This gateway instance, as lease owner. */
  owner: string;
  leaseMs?: number;
  /** The environment agents' PATH and LANG come from (runners/env.ts). */
  hostEnv?: NodeJS.ProcessEnv;
  /** Writes this process's batched task:tool_use events, so they come before the task's end. */
  flushToolEvents?: () => Promise<void>;
}

type Stop = 'lease_lost' | 'cancelled' | 'completing' | 'shutdown';

interface Job {
  task: LeasedTaskRow;
  profile: string;
  abort: AbortController;
  stop?: Stop;
  completing?: NodeJS.Timeout;
  ownSeqs: Set<string>;
  done: Promise<void>;
}

export class TaskWorker {
  private readonly jobs = new Map<string, Job>();
  private readonly runners = new Map<
    string,
    { config: Profile['runner']; runner: Runner | undefined }
  >();
  private readonly timers: NodeJS.Timeout[] = [];
  private waker: TaskEventWaker | undefined;
  private unsubscribe: (() => Promise<void>) | undefined;
  private stopped = false;
  private closing: Promise<void> | undefined;
  private readonly leaseMs: number;

  private readonly claims = new CoalescedRun(
    () => this.claimAll(),
    (error) => this.deps.log.warn({ err: error }, 'task claim failed (retried in 1 s)'),
  );
  private constructor(private readonly deps: WorkerDeps) {
    this.leaseMs = deps.leaseMs ?? LEASE_MS;
  }

  static async start(deps: WorkerDeps): Promise<TaskWorker> {
    const worker = new TaskWorker(deps);
    worker.waker = await TaskEventWaker.start(deps.bus, deps.log);
    // Any committed task event may be a task:created (or an end that frees a slot): claim.
    worker.unsubscribe = await deps.bus.subscribe(TASK_EVENTS_CHANNEL, (payload) => {
      if (decodeNotices(payload).some((n) => !worker.isOwn(n.taskId, n.seq))) worker.kick();
    });
    await worker.recover();
    worker.timers.push(
      setInterval(() => worker.kick(), POLL_MS),
      setInterval(() => void worker.recover(), RECOVER_MS),
    );
    for (const t of worker.timers) t.unref();
    worker.kick();
    return worker;
  }

  /** Number of agents this gateway runs now. */
  get running(): number {
    return this.jobs.size;
  }

  /** Stop claiming and stop every agent (their tasks go back to pending); see the class comment. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const job of this.jobs.values()) this.stopJob(job, 'shutdown');
    await Promise.allSettled([...this.jobs.values()].map((j) => j.done));
    await this.unsubscribe?.();
    await this.waker?.close();
  }

  private isOwn(taskId: string, seq: string): boolean {
    return this.jobs.get(taskId)?.ownSeqs.has(seq) ?? false;
  }

  private async recover(): Promise<void> {
    if (this.stopped) return;
    try {
      const { requeued, failed, revokedTokens } = await recoverExpiredLeases(
        this.deps.sql,
        {},
        this.deps.publish,
      );
      const ids = [...requeued, ...failed].map((t) => t.id);
      if (ids.length === 0) return;
      this.deps.log.warn(
        { requeued: requeued.length, failed: failed.length },
        'expired task leases recovered',
      );
      await this.deps.tokens.revoked(ids, revokedTokens);
      this.kick();
    } catch (error) {
      this.deps.log.warn({ err: error }, 'lease recovery failed (retried in 5 s)');
    }
  }

  /** Claim now, or right after the claim pass that is running (wakes are coalesced). */
  private kick(): void {
    if (!this.stopped) this.claims.kick();
  }

  private runnerFor(name: string, profile: Profile): Runner | undefined {
    const known = this.runners.get(name);
    if (known?.config === profile.runner) return known.runner;
    try {
      const runner = createRunner(profile.runner, this.deps.hostEnv);
      this.runners.set(name, { config: profile.runner, runner });
      return runner;
    } catch (error) {
      // Remembered too, so the claim loop (every second) logs it once per policy, not per pass.
      this.runners.set(name, { config: profile.runner, runner: undefined });
      this.deps.log.error({ err: error, profile: name }, 'profile runner invalid; its tasks wait');
      return undefined;
    }
  }

  private async claimAll(): Promise<void> {
    const policy = this.deps.registry.currentPolicy();
    if (!policy) return;
    for (const [name, profile] of Object.entries(policy.profiles)) {
      if (this.stopped) return;
      const concurrency = profile.concurrency ?? DEFAULT_CONCURRENCY;
      const local = [...this.jobs.values()].filter((j) => j.profile === name).length;
      // No query when this gateway is full: notices arrive for every event of every task.
      if (local >= concurrency) continue;
      const runner = this.runnerFor(name, profile);
      if (!runner) continue;
      const tasks = await claimTasks(
        this.deps.sql,
        {
          profile: name,
          owner: this.deps.owner,
          leaseMs: this.leaseMs,
          concurrency,
          limit: concurrency - local,
        },
        this.deps.publish,
      );
      for (const task of tasks) this.startJob(task, name, profile, policy, runner);
    }
  }

  private startJob(
    task: LeasedTaskRow,
    name: string,
    profile: Profile,
    policy: Policy,
    runner: Runner,
  ): void {
    const job: Job = {
      task,
      profile: name,
      abort: new AbortController(),
      ownSeqs: new Set(),
      done: Promise.resolve(),
    };
    this.jobs.set(task.id, job);
    job.done = this.runJob(job, profile, policy, runner)
      .catch((error) => this.deps.log.error({ err: error, taskId: task.id }, 'task run failed'))
      .finally(() => {
        clearTimeout(job.completing);
        this.jobs.delete(task.id);
        this.kick();
      });
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

  private async runJob(job: Job, profile: Profile, policy: Policy, runner: Runner): Promise<void> {
    const { task } = job;
    const log = this.deps.log.child({ taskId: task.id, profile: job.profile });
    const lease = { taskId: task.id, token: task.leaseToken };
    // A result the agent of an earlier attempt handed in before its gateway died stands.
    const prior = await readAgentResult(this.deps.sql, task.id);
    if (prior?.agentResult != null) {
      return this.settle(
        log,
        await completeTask(this.deps.sql, lease, { result: prior.agentResult }, this.deps.publish),
      );
    }
    const timeoutMs = taskTimeoutMs(task, profile, policy);
    let workdir: string | undefined;
    const timers: NodeJS.Timeout[] = [];
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
      workdir = await writeBundle(bundle);
      const beat = setInterval(
        () => void this.heartbeat(job).catch((e) => log.warn({ err: e }, 'lease extension failed')),
        Math.max(100, Math.floor(this.leaseMs / 3)),
      );
      timers.push(beat);
      unwatch = this.waker?.watch(task.id, (seq) => {
        if (!job.ownSeqs.has(seq)) void this.check(job).catch(() => {});
      });
      // A cancel or task_complete committed between the claim and the watch.
      await this.check(job);
      output = new OutputSink(this.deps.sql, this.deps.publish, log, task.id, (seqs) => {
        for (const s of seqs) job.ownSeqs.add(s);
      });
      const sink = output;
      const preamble = (task.execution as { preamble?: unknown }).preamble;
      const prompt =
        typeof preamble === 'string' && preamble !== ''
          ? `${preamble}\n\n${task.prompt}`
          : task.prompt;
      log.info({ timeoutMs, integrations: grant.integrations.length }, 'agent starting');
      run = await runner.run({
        prompt,
        bundle,
        workdir,
        timeoutMs,
        signal: job.abort.signal,
        onLine: (line) => sink.push(line),
      });
    } catch (error) {
      run = {
        reason: 'spawn_failed',
        exitCode: null,
        signal: null,
        stdoutTail: '',
        error: `the agent could not be prepared: ${(error as Error).message}`,
      };
    } finally {
      for (const t of timers) clearInterval(t);
      unwatch?.();
    }
    try {
      const stats = await output?.close();
      log.info(
        { reason: run.reason, exitCode: run.exitCode, stop: job.stop, ...stats },
        'agent ended',
      );
      await this.finish(job, run, timeoutMs, log);
    } finally {
      if (workdir) await removeWorkdir(workdir).catch(() => {});
    }
  }

  /** Ends the task from how its agent ended; nothing when the lease is not ours any more. */
  private async finish(job: Job, run: RunResult, timeoutMs: number, log: Logger): Promise<void> {
    const { sql, publish } = this.deps;
    const lease = { taskId: job.task.id, token: job.task.leaseToken };
    if (job.stop === 'lease_lost') return;
    // The agent's last calls may still sit in the 200 ms batch: written first, a stream that
    // ends at the terminal event has seen them all.
    await this.deps.flushToolEvents?.().catch(() => {});
    if (job.stop === 'cancelled') {
      // The canceller revoked the tokens; forget them here too (another process may have cancelled).
      await this.deps.tokens.revoked([job.task.id], []);
      return;
    }
    const state = await readAgentResult(sql, job.task.id);
    if (state?.agentResult != null) {
      return this.settle(
        log,
        await completeTask(sql, lease, { result: state.agentResult }, publish),
      );
    }
    if (job.stop === 'shutdown') return this.giveBack(job, log);
    const outcome = runOutcome(run, timeoutMs);
    const result =
      outcome.kind === 'complete'
        ? await completeTask(sql, lease, { result: outcome.result }, publish)
        : await failTask(sql, lease, { reason: outcome.reason, error: outcome.error }, publish);
    return this.settle(log, result);
  }

  private async settle(log: Logger, result: LeaseResult): Promise<void> {
    if (result.outcome === 'lease_lost') {
      log.warn({ status: result.task.status }, 'task lease lost before it could be ended');
      return;
    }
    await this.deps.tokens.revoked([result.task.id], result.revokedTokens);
  }

  /** Shutdown: back to pending for another gateway (the tokens of this attempt are revoked). */
  private async giveBack(job: Job, log: Logger): Promise<void> {
    const result = await requeueForShutdown(this.deps.sql, job.task, this.deps.owner);
    if (!result) return log.warn('task lease lost before it could be given back');
    await this.deps.publish([result.event]);
    await this.deps.tokens.revoked([job.task.id], result.revoked);
  }
}
