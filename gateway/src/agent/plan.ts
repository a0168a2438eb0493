import { z } from 'zod';
import { SwitchboardError } from '../errors.ts';

/**
 * The reference agent's plan: the task prompt, when it is JSON of this form (issue 5):
 *   {"calls": [{"tool": "fixture__test_simple_text", "arguments": {}}], "result": "…"}
 * `tool` is the name as the aggregate `/mcp` endpoint lists it (`<integration>__<tool>`).
 * Strict: a misspelt key (`"argument"`) is an error, not a call made without its arguments.
 */
export const planSchema = z.strictObject({
  calls: z.array(
    z.strictObject({
      tool: z.string().min(1, 'expected a tool name as /mcp lists it'),
      arguments: z.record(z.string(), z.unknown()).default({}),
    }),
  ),
  /** What task_complete receives; defaults to the text of the last call's result. */
  result: z.string().optional(),
});
export type Plan = z.output<typeof planSchema>;

/**
 * `undefined` when the prompt is not meant as a plan (not JSON, or JSON without a `calls` key):
 * the agent then lists the tools instead. A prompt that is a JSON object with `calls` is meant as
 * a plan, so anything wrong in it is an error naming the field (`calls.1.tool: …`), never a
 * silent fallback to listing.
 */
export function parsePlan(prompt: string): Plan | undefined {
  let json: unknown;
  try {
    json = JSON.parse(prompt);
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json) || !('calls' in json))
    return undefined;
  const parsed = planSchema.safeParse(json);
  if (!parsed.success) {
    const where = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(plan)'}: ${i.message}`)
      .join('; ');
    throw new SwitchboardError('agent_plan_invalid', `invalid plan: ${where}`);
  }
  return parsed.data;
}
