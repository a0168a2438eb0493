import { strictObject } from '@switchboard/sdk';
import { z } from 'zod';
import { durationSchema } from './duration.ts';
import { guardToolPattern } from './guard-patterns.ts';
import { parseSize, SIZE_EXPECTED } from './size.ts';

/**
 * A task's budget (issue 15): how many tool calls it may make in all and per tool, how many
 * bytes of upstream results it may read, and for how long after it started it may call tools.
 * Written under a profile (`profiles.<name>.budget`) and on an external task's grant (the API's
 * and `switchboard token grant`'s `budget`). Every limit is optional; a budget with none is an
 * error (it would look like a limit and be none). The gateway enforces it in guards/budgets.ts.
 */

/** A million calls is far past any agent run (a busy one makes a few hundred). */
export const MAX_BUDGET_CALLS = 1_000_000;
/** Per-tool limits per budget: each is a key in the task's counts row, so they are bounded. */
export const MAX_BUDGET_PATTERNS = 100;

const calls = z
  .int({ error: `expected a whole number of calls from 0 to ${MAX_BUDGET_CALLS}` })
  .min(0, `expected a whole number of calls from 0 to ${MAX_BUDGET_CALLS}`)
  .max(MAX_BUDGET_CALLS, `expected a whole number of calls from 0 to ${MAX_BUDGET_CALLS}`);

const size = z
  .union([z.string(), z.number()], { error: `expected ${SIZE_EXPECTED}` })
  .transform((value, ctx) => {
    const bytes = parseSize(value);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected ${SIZE_EXPECTED}` });
      return z.NEVER;
    }
    return bytes;
  });

export const budgetSchema = strictObject(
  {
    toolCalls: calls.optional(),
    perTool: z
      .record(guardToolPattern, calls, {
        error: 'expected a mapping of tool patterns to numbers of calls',
      })
      .refine(
        (map) => Object.keys(map).length <= MAX_BUDGET_PATTERNS,
        `expected at most ${MAX_BUDGET_PATTERNS} tool patterns`,
      )
      .optional(),
    upstreamBytes: size.optional(),
    wallTime: durationSchema.optional(),
  },
  'a budget: a mapping with toolCalls, perTool, upstreamBytes and/or wallTime',
)
  .refine(
    (b) =>
      b.toolCalls !== undefined ||
      (b.perTool !== undefined && Object.keys(b.perTool).length > 0) ||
      b.upstreamBytes !== undefined ||
      b.wallTime !== undefined,
    'expected at least one limit: toolCalls, perTool, upstreamBytes or wallTime',
  )
  .transform(
    ({ wallTime, ...rest }): Budget => ({
      ...rest,
      ...(wallTime !== undefined && { wallTimeMs: wallTime }),
    }),
  );

/** A parsed budget: counts, bytes and milliseconds. */
export interface Budget {
  toolCalls?: number | undefined;
  perTool?: Record<string, number> | undefined;
  upstreamBytes?: number | undefined;
  wallTimeMs?: number | undefined;
}
export type BudgetInput = z.input<typeof budgetSchema>;

/** Does a budget pattern (`*:delete_*`) name `tool` of `integration`? */
const smaller = (a: number | undefined, b: number | undefined) =>
  a === undefined ? b : b === undefined ? a : Math.min(a, b);

/**
 * The budget a task runs under when both its profile and its grant set one: the smaller of
 * each limit (a per-tool pattern in either applies; one in both takes the smaller count).
 */
export function combineBudgets(a: Budget | undefined, b: Budget | undefined): Budget | undefined {
  if (!a) return b;
  if (!b) return a;
  const perTool: Record<string, number> = { ...a.perTool };
  for (const [pattern, max] of Object.entries(b.perTool ?? {})) {
    perTool[pattern] = smaller(perTool[pattern], max) as number;
  }
  const out: Budget = {};
  const toolCalls = smaller(a.toolCalls, b.toolCalls);
  const upstreamBytes = smaller(a.upstreamBytes, b.upstreamBytes);
  const wallTimeMs = smaller(a.wallTimeMs, b.wallTimeMs);
  if (toolCalls !== undefined) out.toolCalls = toolCalls;
  if (Object.keys(perTool).length > 0) out.perTool = perTool;
  if (upstreamBytes !== undefined) out.upstreamBytes = upstreamBytes;
  if (wallTimeMs !== undefined) out.wallTimeMs = wallTimeMs;
  return out;
}
