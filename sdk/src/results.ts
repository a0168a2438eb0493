import { z } from 'zod';
import { errorsFromZod } from './errors.ts';
import {
  type HandlerResult,
  type HandlerResultInput,
  handlerResultSchema,
  type Trigger,
  type TriggerInput,
  triggerSchema,
} from './handlers.ts';

/**
 * Builders for what an integration's handler tools answer (sdk handlers.ts), and the reader of
 * the task context the gateway sends along with an agent's tool call. Plain functions, no MCP
 * package: usable from any TypeScript server, whatever MCP library it is written with.
 */

/**
 * A handler answer that breaks the contract; `problems` names every field and what it expected:
 * `invalid trigger: session.key: missing, expected a session key such as github:acme/api`.
 */
export class HandlerResultError extends Error {
  constructor(
    what: string,
    readonly problems: string,
  ) {
    super(`${what}: ${problems}`);
    this.name = 'HandlerResultError';
  }
}

function parsed<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = errorsFromZod(result.error, value, what)
    .map((e) => (e.path ? `${e.path}: ${e.message}` : e.message))
    .join('; ');
  throw new HandlerResultError(what, problems);
}

/**
 * One trigger, checked now (a misspelt key throws here, naming it, instead of failing the
 * delivery later in the gateway); `run` defaults to true.
 *
 *   trigger({ session: { key: `acme:${id}`, dispatch: { type: 'acme' } }, message: 'Hello' })
 */
export function trigger(input: TriggerInput): Trigger {
  return parsed(triggerSchema, input, 'invalid trigger');
}

/**
 * A whole handler answer (`on_webhook`, `on_schedule`), checked against the contract the
 * gateway applies. `handlerResult()` with no triggers ignores the event; `response` is the
 * HTTP answer of a `sync` webhook.
 */
export function handlerResult(input: Partial<HandlerResultInput> = {}): HandlerResult {
  return parsed(handlerResultSchema, { triggers: [], ...input }, 'invalid handler result');
}

/** Checks a value someone else built (a test, a handler's raw answer) against the contract. */
export function parseHandlerResult(value: unknown): HandlerResult {
  return parsed(handlerResultSchema, value, 'invalid handler result');
}

/**
 * The `_meta` key under which a stdio integration receives the task an agent's tool call
 * belongs to (ARCHITECTURE §4 "Per-task tokens"). An HTTP integration gets a signed token in
 * its Authorization header instead (gatewayTokenVerifier). The gateway strips any
 * `io.switchboard/*` key an agent sends, so the value is the gateway's own.
 */
export const TASK_META_KEY = 'io.switchboard/task';

const taskContextSchema = z.object({
  taskId: z.string().min(1),
  sessionId: z.string().min(1).optional(),
});
export type TaskContext = z.output<typeof taskContextSchema>;

/**
 * The task of a tool call, from the request's `_meta` (`ctx.mcpReq._meta` in a tool callback
 * of @modelcontextprotocol/server): `{ taskId, sessionId? }`, or undefined when the call did
 * not come through the gateway for a task (the gateway's own handler calls, a local test).
 */
export function readTaskContext(
  meta: Record<string, unknown> | undefined,
): TaskContext | undefined {
  const parsedContext = taskContextSchema.safeParse(meta?.[TASK_META_KEY]);
  return parsedContext.success ? parsedContext.data : undefined;
}
