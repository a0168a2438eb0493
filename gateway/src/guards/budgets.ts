import {
  type Budget,
  formatDuration,
  formatSize,
  guardPatternMatches,
  type Policy,
} from '@switchboard/policy';
import type { EventBus } from '../db/bus.ts';
import type { Pool } from '../db/connect.ts';
import { insertTaskEvent, type TaskEvent } from '../events/store.ts';
import { type PublishTaskEvents, taskEventPublisher } from '../events/task-events.ts';
import type { Logger } from '../log.ts';
import {
  addUpstreamBytes,
  type BudgetUse,
  type CallLimits,
  countBudgetCall,
  markBudgetExceeded,
  readBudgetUse,
  readGrantBudget,
  readTaskClock,
} from '../tasks/sql/budgets.ts';
import type { GuardedCall, Refusal, ToolCallGuard } from './guard.ts';

/**
 * Task budgets (issue 15; policy `profiles.<name>.budget`, an external grant's `budget`): tool
 * calls, calls per tool pattern, upstream bytes and wall time, counted in the database
 * (task_budgets, 0009) so that every replica counts the same calls. A call of a budgeted task
 * costs one statement before (tasks/sql/budgets.ts countBudgetCall, which counts it only if
 * every limit has room) and, with a bytes limit, one after. A task whose profile has no budget
 * costs nothing; an external task (no profile) costs one read per process for its grant's
 * budget, remembered (a grant's budget never changes).
 *
 * A task has one of the two: a queued task runs under its profile's (the API takes no budget
 * for it), an external task under its grant's (it has no profile). The rule for both at once,
 * should a task ever have both, is policy combineBudgets: the smaller of each limit wins, so a
 * grant never widens its profile's. The profile's is the policy's current one, so a reload that
 * narrows it applies to running tasks at once.
 */

export interface BudgetGuardOptions {
  sql: Pool;
  log: Logger;
  /** The current policy (a reload applies to the next call). */
  registry: { currentPolicy(): Policy | undefined };
  /** Announces a committed task:budget_exceeded event to every process (streams, `task watch`). */
  bus: EventBus;
}

interface Deps {
  sql: Pool;
  publish: PublishTaskEvents;
}

/**
 * Grant budgets remembered per process: 10,000 tasks × a few hundred bytes is a few MB at most,
 * and more external tasks than that calling at once is far past one gateway's load.
 */
const MAX_REMEMBERED_GRANTS = 10_000;

/** The budget of one call, kept from before() to after() (bytes are counted after). */
interface Judged {
  budget: Budget;
}

export function createBudgetGuard(options: BudgetGuardOptions): ToolCallGuard {
  const deps: Deps = { sql: options.sql, publish: taskEventPublisher(options.bus, options.log) };
  const grants = new Map<string, Budget | null>();
  const judged = new WeakMap<GuardedCall, Judged>();

  async function grantBudget(taskId: string): Promise<Budget | null> {
    if (grants.has(taskId)) return grants.get(taskId) ?? null;
    const budget = await readGrantBudget(options.sql, taskId);
    if (grants.size >= MAX_REMEMBERED_GRANTS) {
      // Oldest first (a Map keeps insertion order): a forgotten one is read again, no more.
      grants.delete(grants.keys().next().value as string);
    }
    grants.set(taskId, budget);
    return budget;
  }

  async function budgetOf(call: GuardedCall): Promise<Budget | undefined> {
    const { profile, taskId } = call.claims;
    if (profile !== null) return options.registry.currentPolicy()?.profiles[profile]?.budget;
    // Only an external task (no profile) has a grant of its own (tasks/external.ts).
    return (await grantBudget(taskId)) ?? undefined;
  }

  return {
    name: 'budgets',
    async before(call) {
      const budget = await budgetOf(call);
      if (!budget) return undefined;
      const limits = callLimits(budget, call);
      const counted = await countBudgetCall(options.sql, call.claims.taskId, limits);
      if (counted !== undefined) {
        judged.set(call, { budget });
        return undefined;
      }
      return refuse(deps, call, budget);
    },
    async after(call, outcome) {
      const seen = judged.get(call);
      if (!seen || seen.budget.upstreamBytes === undefined || !outcome.result) return;
      const bytes = Buffer.byteLength(JSON.stringify(outcome.result));
      await addUpstreamBytes(options.sql, call.claims.taskId, bytes);
    },
  };
}

/** The limits that apply to this call: the patterns that name its tool, and the totals. */
export function callLimits(budget: Budget, call: Pick<GuardedCall, 'integration' | 'tool'>) {
  const limits: CallLimits = {
    toolCalls: budget.toolCalls ?? null,
    patterns: [],
    patternMaxes: [],
    upstreamBytes: budget.upstreamBytes ?? null,
    wallTimeMs: budget.wallTimeMs ?? null,
  };
  for (const [pattern, max] of Object.entries(budget.perTool ?? {})) {
    if (!guardPatternMatches(pattern, call.integration, call.tool)) continue;
    limits.patterns.push(pattern);
    limits.patternMaxes.push(max);
  }
  return limits;
}

/** One limit that refused a call: its key in task_budgets.exceeded, and what to tell. */
interface Exceeded {
  limit: string;
  message: string;
  data: Record<string, unknown>;
}

/**
 * The call was not counted: finds which limit refused it (the counts only grow, so the limit
 * is still used up), marks it and writes its event once per task, and answers the refusal.
 */
async function refuse(options: Deps, call: GuardedCall, budget: Budget): Promise<Refusal> {
  const { taskId } = call.claims;
  const use =
    (await readBudgetUse(options.sql, taskId)) ??
    (await readTaskClock(options.sql, taskId).then((clock) => clock && emptyUse(clock)));
  const over = use && whichLimit(budget, use, call);
  if (!over) {
    // The task is gone (its token still cached) or the policy changed under the call.
    return { code: 'budget_exceeded', message: "budget: this task's budget is used up" };
  }
  // Already marked (every refusal after the first): no write, the refusal costs one read.
  if (use.exceeded.includes(over.limit)) return { code: 'budget_exceeded', message: over.message };
  const events: TaskEvent[] = await options.sql.begin(async (tx) => {
    if (!(await markBudgetExceeded(tx, taskId, over.limit))) return [];
    return [await insertTaskEvent(tx, { taskId, type: 'task:budget_exceeded', data: over.data })];
  });
  if (events.length > 0) await options.publish(events);
  return { code: 'budget_exceeded', message: over.message };
}

function emptyUse(clock: { startedAt: Date; now: Date }): BudgetUse {
  return { limits: null, calls: 0, perTool: {}, upstreamBytes: 0, exceeded: [], ...clock };
}

function whichLimit(budget: Budget, use: BudgetUse, call: GuardedCall): Exceeded | undefined {
  const from = call.claims.profile === null ? "the task's grant" : `profile ${call.claims.profile}`;
  const base = { integration: call.integration, tool: call.tool, source: from };
  const elapsedMs = use.now.getTime() - new Date(use.startedAt).getTime();
  if (budget.wallTimeMs !== undefined && elapsedMs >= budget.wallTimeMs) {
    return {
      limit: 'wallTime',
      message: `budget: wall time of ${formatDuration(budget.wallTimeMs)} used (the task started ${formatDuration(elapsedMs)} ago) (${from})`,
      data: { ...base, limit: 'wallTime', max: budget.wallTimeMs, used: elapsedMs },
    };
  }
  if (budget.toolCalls !== undefined && use.calls >= budget.toolCalls) {
    return {
      limit: 'toolCalls',
      message: `budget: ${use.calls} tool calls used of ${budget.toolCalls} (${from})`,
      data: { ...base, limit: 'toolCalls', max: budget.toolCalls, used: use.calls },
    };
  }
  const { patterns, patternMaxes } = callLimits(budget, call);
  for (const [i, pattern] of patterns.entries()) {
    const max = patternMaxes[i] as number;
    const used = use.perTool[pattern] ?? 0;
    if (used < max) continue;
    return {
      limit: `perTool:${pattern}`,
      message: `budget: ${used} calls of ${pattern} used of ${max} (${from})`,
      data: { ...base, limit: `perTool:${pattern}`, pattern, max, used },
    };
  }
  if (budget.upstreamBytes !== undefined && use.upstreamBytes >= budget.upstreamBytes) {
    return {
      limit: 'upstreamBytes',
      message: `budget: ${use.upstreamBytes} bytes of upstream results read of ${formatSize(budget.upstreamBytes)} (${from})`,
      data: { ...base, limit: 'upstreamBytes', max: budget.upstreamBytes, used: use.upstreamBytes },
    };
  }
  return undefined;
}
