import type { CallToolResult } from '@modelcontextprotocol/server';
import type { EventBus } from '../db/bus.ts';
import type { Sql } from '../db/connect.ts';
import { ERRORS } from '../errors.ts';
import {
  claimMcpTasks,
  finishMcpTaskRun,
  type McpTaskOutcome,
  type McpTaskRow,
  parkMcpTaskRun,
  recoverMcpTasks,
  renewMcpTaskLease,
  setMcpTaskUpstream,
} from '../mcp-tasks/store.ts';
import {
  fitsResultCap,
  MAX_MCP_TASK_RESULT_BYTES,
  MAX_RUNNING_PER_AGENT_TASK,
  MCP_TASK_LEASE_MS,
  MCP_TASK_SLOTS,
} from '../mcp-tasks/wire.ts';
import { QueueWorker } from '../queue/worker.ts';
import type { RevocationListener } from '../tokens/claims.ts';
import { tokenState } from '../tokens/store.ts';
import type { AgentInput } from './input-required.ts';
import {
  cancelUpstreamTask,
  type FollowDeps,
  followUpstreamTask,
  type Parked,
  type UpstreamTask,
  upstreamTaskStarter,
} from './mcp-task-upstream.ts';
import { callTool, type HandlerDeps } from './tools.ts';
import { type View, visibleIntegrations } from './view.ts';

/**
 * Runs MCP tasks (mcp-tasks/, the tasks extension) as durable calls on the one leased-queue loop
 * (queue/worker.ts): a created row is queued, claimed here with a lease (SKIP LOCKED) and run
 * through the same check-and-forward as a sync call (tools.ts callTool: scope, guards, budgets,
 * events, traces); its end is written under the lease. The creating replica wakes its own worker
 * at once, so a call normally runs where it was accepted; another replica's poll may take it.
 * A dead replica's rows come back by `recover` after the lease (30 s): an idempotent tool's is
 * queued again, any other ends failed (`mcp_task_interrupted`). A cancel on any replica is
 * written to the row and published on the bus (`mcp_task_cancel`, the id only); the replica
 * running it aborts the upstream call. Passthrough (mcp-task-upstream.ts): where the upstream
 * runs tasks itself, the same callTool creates the task upstream, its id is committed to the row,
 * and runs follow it (polling in 10 s turns, parked in between); recovery queues such a row again
 * whatever its idempotency, since its next run only polls.
 */

export const MCP_TASK_WAKE = 'mcp_task_queued';
export const MCP_TASK_CANCEL = 'mcp_task_cancel';
/** A run's end was written (payload: the row id), for waits on any replica (runEnded). */
export const MCP_TASK_ENDED = 'mcp_task_ended';

export interface McpTaskRuntimeDeps {
  sql: Sql;
  bus: EventBus;
  /** This process's lease owner name (gateway.ts's `owner`). */
  owner: string;
  /** Revocations made here or announced by another process (tokens/service.ts onRevoked). */
  onRevoked?: (listener: RevocationListener) => () => void;
  /**
   * The longest a passthrough row (an upstream task the gateway follows: mcp-task-upstream.ts)
   * runs from its creation before it is cancelled upstream and fails; capped by its ttl less
   * 5 min. Config SWITCHBOARD_MCP_TASK_UPSTREAM_MAX_MS (default 55 min).
   */
  upstreamTaskMaxMs?: number;
}

/** A call running here: its abort, and whether its token's revocation was the cause. */
interface Running {
  row: McpTaskRow;
  controller: AbortController;
  revoked: boolean;
  /** The upstream task this run follows (passthrough), once known. */
  upstream?: UpstreamTask;
}

export class McpTaskRuntime {
  private worker: QueueWorker<McpTaskRow, { key: string; limit: number }> | undefined;
  private unsubscribe: (() => Promise<void>) | undefined;
  private unsubscribeEnded: (() => Promise<void>) | undefined;
  /** Waits of this replica's requests (first round, tasks/result), by row id (each timed). */
  private readonly endWaiters = new Map<string, Set<() => void>>();
  private readonly running = new Map<string, Running>();
  private stopRevocations: (() => void) | undefined;
  private starting: Promise<void> | undefined;
  private closed = false;

  constructor(
    readonly deps: McpTaskRuntimeDeps,
    private readonly handler: HandlerDeps,
  ) {}

  /**
   * Starts claiming. The gateway calls it once its integrations' servers have started (the
   * `starting` of /readyz): a row claimed earlier ran against an integration whose tools were not
   * known yet and ended failed "Tool … not found". Once closed, it starts nothing; close waits
   * for a start in progress, so no worker outlives the runtime.
   */
  start(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.starting ??= this.startNow();
    return this.starting;
  }

  private async startNow(): Promise<void> {
    const { sql, bus, owner } = this.deps;
    const log = this.handler.log;
    this.unsubscribe = await bus.subscribe(MCP_TASK_CANCEL, (id) => {
      this.running.get(id)?.controller.abort(new Error('MCP task cancelled'));
      this.wake(id);
    });
    this.unsubscribeEnded = await bus.subscribe(MCP_TASK_ENDED, (id) => this.wake(id));
    // A revoked token's calls stop like its open exchanges do (http/token-exchanges.ts).
    this.stopRevocations = this.deps.onRevoked?.((taskIds, tokenIds, kids) => {
      for (const run of this.running.values()) {
        const { claims } = run.row;
        if (
          taskIds.includes(claims.taskId) ||
          tokenIds.includes(claims.tokenId) ||
          (claims.kid !== undefined && kids.includes(claims.kid))
        ) {
          run.revoked = true;
          run.controller.abort(new Error('token revoked'));
        }
      }
    });
    this.worker = await QueueWorker.start<McpTaskRow, { key: string; limit: number }>({
      name: 'mcp-task',
      log,
      idField: 'mcpTaskId',
      id: (row) => row.id,
      pollMs: 2_000,
      recoverMs: 10_000,
      slots: () => [{ key: '', limit: MCP_TASK_SLOTS }],
      claim: (_slot, limit) =>
        claimMcpTasks(sql, owner, MCP_TASK_LEASE_MS, limit, MAX_RUNNING_PER_AGENT_TASK),
      handle: (row) => this.run(row),
      fail: async (row, error) => {
        const ended = await finishMcpTaskRun(sql, row.id, owner, {
          status: 'failed',
          error: {
            code: -32603,
            message: `the gateway failed the call: ${(error as Error).message}`,
          },
        });
        if (ended) this.ended(row);
      },
      // A throw of the handler is final: the row ends failed (a re-run is recovery's decision).
      retry: {
        schedule: () => [],
        attempt: (row) => row.attempts,
        classify: () => ({ retryable: false }),
      },
      recover: () =>
        recoverMcpTasks(sql, {
          code: ERRORS.mcp_task_interrupted.jsonRpc,
          message:
            'mcp_task_interrupted: the gateway stopped during the call; it is not idempotent, so it was not run again',
        }),
      renew: {
        everyMs: MCP_TASK_LEASE_MS / 3,
        lease: (row) => renewMcpTaskLease(sql, row.id, owner, MCP_TASK_LEASE_MS),
      },
      wakeOn: { bus, channel: MCP_TASK_WAKE },
      stopJob: (row) => this.running.get(row.id)?.controller.abort(new Error('gateway stopping')),
      drainMs: 2_000,
    });
  }

  /** A row was queued (created, or its input completed): run it soon, here or elsewhere. */
  queued(): void {
    this.deps.bus.publish(MCP_TASK_WAKE, '').catch((error: unknown) => {
      this.handler.log.warn({ err: error }, 'mcp task wake-up not published');
    });
    this.worker?.wake();
  }

  /**
   * Tells the replica running `row` to abort its upstream call, and cancels its upstream task
   * (passthrough) if it has one (best effort, bounded). A task created upstream while this cancel
   * was written is cancelled by its run, whose commit of the id then fails.
   */
  cancelled(row: McpTaskRow): void {
    this.running.get(row.id)?.controller.abort(new Error('MCP task cancelled'));
    this.wake(row.id);
    this.deps.bus.publish(MCP_TASK_CANCEL, row.id).catch((error: unknown) => {
      this.handler.log.warn({ err: error }, 'mcp task cancel not published');
    });
    if (row.upstreamTaskId !== null && row.upstreamWire !== null) {
      void cancelUpstreamTask(this.followDeps(), row, {
        taskId: row.upstreamTaskId,
        wire: row.upstreamWire,
      });
    }
  }

  private followDeps(): FollowDeps {
    return { ...this.handler, maxMs: this.deps.upstreamTaskMaxMs ?? DEFAULT_UPSTREAM_TASK_MAX_MS };
  }

  /**
   * Resolves when a run of `id` ends or it is cancelled (on any replica: the bus) or after `ms`,
   * whichever is first.
   * No polling: the caller reads the row once afterwards. Bounded by its timer, so a lost
   * message costs at most `ms`.
   */
  runEnded(id: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const waiters = this.endWaiters.get(id) ?? new Set<() => void>();
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0 && this.endWaiters.get(id) === waiters) this.endWaiters.delete(id);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waiters.add(done);
      this.endWaiters.set(id, waiters);
    });
  }

  private wake(id: string): void {
    for (const done of [...(this.endWaiters.get(id) ?? [])]) done();
  }

  /**
   * Tells the waiters of every replica that a row's run ended (after the write committed): a
   * first-round wait, or a 2025-era tasks/result (mcp-task-methods-2025.ts) of any run.
   */
  private ended(row: McpTaskRow): void {
    this.wake(row.id);
    this.deps.bus.publish(MCP_TASK_ENDED, row.id).catch((error: unknown) => {
      this.handler.log.warn({ err: error }, 'mcp task end not published');
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.starting?.catch(() => {});
    this.stopRevocations?.();
    await this.worker?.close();
    await this.unsubscribe?.();
    await this.unsubscribeEnded?.();
    for (const id of [...this.endWaiters.keys()]) this.wake(id);
  }

  private async run(row: McpTaskRow): Promise<void> {
    const { sql, owner } = this.deps;
    const run: Running = { row, controller: new AbortController(), revoked: false };
    this.running.set(row.id, run);
    try {
      const outcome = await this.outcome(run);
      if (run.revoked) {
        if (run.upstream) void cancelUpstreamTask(this.followDeps(), row, run.upstream);
        if (await finishMcpTaskRun(sql, row.id, owner, TOKEN_GONE)) this.ended(row);
        return;
      }
      // Aborted: cancelled (the row says so already) or the gateway is stopping (lease expiry).
      if (run.controller.signal.aborted) return;
      if ('park' in outcome) {
        // Due again after `park` ms: this replica looks then (others poll every 2 s).
        if (await parkMcpTaskRun(sql, row.id, owner, outcome.park)) {
          setTimeout(() => this.worker?.wake(), outcome.park).unref();
        }
        return;
      }
      if (await finishMcpTaskRun(sql, row.id, owner, outcome)) this.ended(row);
    } finally {
      this.running.delete(row.id);
    }
  }

  private async outcome(run: Running): Promise<McpTaskOutcome | Parked> {
    const { row } = run;
    const signal = run.controller.signal;
    // A revoked or expired token can do nothing, not even a call it queued earlier.
    const token = await tokenState(this.deps.sql, row.tokenId);
    if (!token || token.revoked || row.claims.expiresAt * 1000 <= Date.now()) return TOKEN_GONE;
    // Passthrough: the upstream task exists (a restart, or input answered): follow it, no call.
    const follow = (task: UpstreamTask, pending: McpTaskRow) => {
      run.upstream = task;
      return followUpstreamTask(this.followDeps(), pending, task, signal, outcomeOf);
    };
    const view: View = { claims: row.claims, integration: row.viewIntegration ?? undefined };
    const input: AgentInput = { capabilities: row.inputCapabilities };
    if (Object.keys(row.inputResponses).length > 0) input.inputResponses = row.inputResponses;
    if (row.requestState !== null) input.requestState = row.requestState;
    try {
      if (row.upstreamTaskId !== null && row.upstreamWire !== null) {
        return await follow({ taskId: row.upstreamTaskId, wire: row.upstreamWire }, row);
      }
      let created: UpstreamTask | undefined;
      const result = await callTool(
        this.handler,
        view,
        visibleIntegrations(this.handler.registry, view),
        { name: row.requestedName, ...(row.arguments && { arguments: row.arguments }) },
        {
          mcpReq: { id: `mcp-task:${row.id}`, _meta: undefined, signal, notify: async () => {} },
          era: 'modern',
          upstreamTask: upstreamTaskStarter({
            ttlMs: row.ttlMs,
            commit: (task) => setMcpTaskUpstream(this.deps.sql, row.id, this.deps.owner, task),
            created: (task) => {
              created = task;
            },
            abandon: (task) => void cancelUpstreamTask(this.followDeps(), row, task),
          }),
        },
        input,
      );
      // The answers this call sent went with the tools/call: nothing is left to send upstream.
      if (created) return await follow(created, { ...row, inputResponses: {} });
      return outcomeOf(result);
    } catch (error) {
      const e = error as { code?: unknown; message?: unknown; data?: unknown };
      return {
        status: 'failed',
        error: {
          code: typeof e.code === 'number' ? e.code : -32603,
          message: String(e.message ?? 'the call failed').slice(0, 2000),
          ...(e.data !== undefined && fitsResultCap(e.data) && { data: e.data }),
        },
      };
    }
  }
}

/** SWITCHBOARD_MCP_TASK_UPSTREAM_MAX_MS's default: the 1 h ttl less its 5 min margin. */
export const DEFAULT_UPSTREAM_TASK_MAX_MS = 55 * 60_000;

/** The end of a call whose token was revoked or expired before or while it ran. */
const TOKEN_GONE: McpTaskOutcome = {
  status: 'failed',
  error: {
    code: ERRORS.mcp_task_interrupted.jsonRpc,
    message: 'mcp_task_interrupted: the token that created this MCP task is revoked or expired',
  },
};

/** A tool's answer as the row stores it: input_required parks, anything else completes. */
export function outcomeOf(result: CallToolResult): McpTaskOutcome {
  const r = result as CallToolResult & {
    resultType?: string;
    inputRequests?: Record<string, unknown>;
    requestState?: string;
  };
  if (r.resultType === 'input_required' && r.inputRequests) {
    return {
      status: 'input_required',
      inputRequests: r.inputRequests,
      requestState: typeof r.requestState === 'string' ? r.requestState : null,
    };
  }
  const { resultType: _, ...stored } = r;
  if (!fitsResultCap(stored)) {
    return {
      status: 'failed',
      error: {
        code: -32603,
        message: `the tool's result is over ${MAX_MCP_TASK_RESULT_BYTES} bytes, the bound of a stored MCP task result`,
      },
    };
  }
  return { status: 'completed', result: { ...stored, content: stored.content ?? [] } };
}
