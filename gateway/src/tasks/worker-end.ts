import type { Pool } from '../db/connect.ts';
import type { PublishTaskEvents } from '../events/task-events.ts';
import type { Logger } from '../log.ts';
import type { RunResult } from '../runners/runner.ts';
import type { TokenService } from '../tokens/service.ts';
import { completeTask, failTask, type LeaseResult } from './queue.ts';
import { requeueForRetry, requeueForShutdown } from './requeue.ts';
import { runOutcome } from './run-outcome.ts';
import { readAgentResult } from './sql/agent-result.ts';
import type { LeasedTaskRow } from './store.ts';

/**
 * How the task worker (worker.ts) ends a task once its agent has stopped: completed with the
 * agent's result, given back at shutdown, left alone when the lease or the task is gone, or —
 * a failed run — handed to the queue's fail (queue/worker.ts) as an AgentFailed, which retries
 * it with the backoff of its profile's `retry:` or fails it.
 */

export type Stop = 'lease_lost' | 'cancelled' | 'completing' | 'shutdown';

export interface EndDeps {
  sql: Pool;
  tokens: TokenService;
  publish: PublishTaskEvents;
  /** This gateway instance, as lease owner. */
  owner: string;
  flushToolEvents?: () => Promise<void>;
}

export interface EndingJob {
  task: LeasedTaskRow;
  stop?: Stop;
}

/** How an agent's run failed (runOutcome's reason code and error text). */
export class AgentFailed extends Error {
  constructor(
    readonly reason: string,
    readonly detail: string | undefined,
  ) {
    super(detail ?? reason);
  }
}

const leaseOf = (job: EndingJob) => ({ taskId: job.task.id, token: job.task.leaseToken });

/**
 * Ends the task from how its agent ended (nothing when the lease is not ours any more); a
 * failed run is returned, for the queue's fail.
 */
export async function endRun(
  deps: EndDeps,
  job: EndingJob,
  run: RunResult,
  timeoutMs: number,
  log: Logger,
): Promise<AgentFailed | undefined> {
  const { sql, publish } = deps;
  if (job.stop === 'lease_lost') return undefined;
  // The agent's last calls may still sit in the 200 ms batch: written first, a stream that
  // ends at the terminal event has seen them all.
  await deps.flushToolEvents?.().catch(() => {});
  if (job.stop === 'cancelled') {
    // The canceller revoked the tokens; forget them here too (another process may have cancelled).
    await deps.tokens.revoked([job.task.id], []);
    return undefined;
  }
  const state = await readAgentResult(sql, job.task.id);
  if (state?.agentResult != null) {
    await completeWith(deps, job, state.agentResult, log);
    return undefined;
  }
  if (job.stop === 'shutdown') {
    await giveBack(deps, job, log);
    return undefined;
  }
  const outcome = runOutcome(run, timeoutMs);
  if (outcome.kind !== 'complete') return new AgentFailed(outcome.reason, outcome.error);
  await settle(
    deps,
    log,
    await completeTask(sql, leaseOf(job), { result: outcome.result }, publish),
  );
  return undefined;
}

/** Completes the task with `result` under the job's lease. */
export async function completeWith(
  deps: EndDeps,
  job: EndingJob,
  result: string,
  log: Logger,
): Promise<void> {
  await settle(deps, log, await completeTask(deps.sql, leaseOf(job), { result }, deps.publish));
}

/**
 * A failed run: pending again in `retryInMs` while the task has run fewer than `attempts`
 * times (its profile's `retry:`), else failed for good (failTask is final).
 */
export async function endFailedRun(
  deps: EndDeps,
  job: EndingJob,
  failure: AgentFailed,
  retry: { attempts: number; retryInMs: number | null },
  log: Logger,
): Promise<void> {
  const reason = { reason: failure.reason, error: failure.detail };
  if (retry.retryInMs !== null && job.task.attempts < retry.attempts) {
    const retryInMs = retry.retryInMs;
    const result = await requeueForRetry(deps.sql, job.task, {
      ...reason,
      retryInMs,
      owner: deps.owner,
    });
    if (!result) {
      log.warn('task lease lost before its retry could be scheduled');
      return;
    }
    log.warn({ ...reason, attempt: job.task.attempts, retryInMs }, 'task run failed; retrying');
    await deps.publish([result.event]);
    await deps.tokens.revoked([job.task.id], result.revoked);
    return;
  }
  await settle(deps, log, await failTask(deps.sql, leaseOf(job), reason, deps.publish));
}

async function settle(deps: EndDeps, log: Logger, result: LeaseResult): Promise<void> {
  if (result.outcome === 'lease_lost') {
    log.warn({ status: result.task.status }, 'task lease lost before it could be ended');
    return;
  }
  await deps.tokens.revoked([result.task.id], result.revokedTokens);
}

/** Shutdown: back to pending for another gateway (the tokens of this attempt are revoked). */
async function giveBack(deps: EndDeps, job: EndingJob, log: Logger): Promise<void> {
  const result = await requeueForShutdown(deps.sql, job.task, deps.owner);
  if (!result) {
    log.warn('task lease lost before it could be given back');
    return;
  }
  await deps.publish([result.event]);
  await deps.tokens.revoked([job.task.id], result.revoked);
}
