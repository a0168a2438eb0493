/**
 * @switchboard/sdk/server — handler tools for a TypeScript integration written with the official
 * `@modelcontextprotocol/server` package (a peer dependency: only this subpath needs it).
 *
 *   registerWebhookHandler(server, 'on_webhook', (input) =>
 *     handlerResult({ triggers: [trigger({ session: { key: 'acme:1' }, message: input.body })] }));
 *   registerDispatcher(server, 'deliver', async ({ task, dispatch }) => { … });
 *
 * Each helper registers the tool with the gateway's input schema (sdk handlers.ts), runs the
 * callback in a `tools/call <name>` span continuing the gateway's trace (sdk/tracing, off
 * unless the gateway passes an OTLP endpoint), checks the answer against the contract the
 * gateway applies, and turns any failure into an `isError` result whose text says why: the
 * gateway logs it and retries the delivery (or the outbox row) as it would any handler error.
 */
import type { CallToolResult, McpServer, ServerContext } from '@modelcontextprotocol/server';
import type { z } from 'zod';
import {
  type DispatcherInput,
  dispatcherInputSchema,
  type HandlerResultInput,
  type ScheduleInput,
  scheduleInputSchema,
  type WebhookInput,
  webhookInputSchema,
} from './handlers.ts';
import { HandlerResultError, parseHandlerResult } from './results.ts';
import { inToolCallSpan } from './tracing.ts';

export interface HandlerToolOptions {
  /** The tool's description (hidden tools are listed to the gateway only). */
  description?: string;
}

type Awaitable<T> = T | Promise<T>;

export type WebhookHandler = (
  input: WebhookInput,
  ctx: ServerContext,
) => Awaitable<HandlerResultInput>;
export type ScheduleHandler = (
  input: ScheduleInput,
  ctx: ServerContext,
) => Awaitable<HandlerResultInput>;

function failure(error: unknown): CallToolResult {
  const text = error instanceof Error ? error.message : String(error);
  return { content: [{ type: 'text', text }], isError: true };
}

/** Runs one handler call in its span; a throw becomes an isError result naming the problem. */
function run(
  tool: string,
  ctx: ServerContext,
  fn: () => Promise<{ text: string; data: Record<string, unknown> }>,
): Promise<CallToolResult> {
  return inToolCallSpan(tool, ctx.mcpReq._meta, async (): Promise<CallToolResult> => {
    try {
      const { text, data } = await fn();
      return { content: [{ type: 'text', text }], structuredContent: data };
    } catch (error) {
      return failure(error);
    }
  });
}

async function triggersAnswer(answer: Awaitable<HandlerResultInput>) {
  const result = parseHandlerResult(await answer);
  const n = result.triggers.length;
  return { text: `${n} trigger${n === 1 ? '' : 's'}`, data: result };
}

/**
 * A webhook handler (manifest `webhooks[].handler`): `fn` gets the verified delivery
 * (`{endpoint, headers, body, deliveryId}`, headers lowercased, body the raw text) and answers
 * `{triggers, response?}`; `handlerResult()` (no triggers) ignores the event.
 */
export function registerWebhookHandler(
  server: McpServer,
  name: string,
  fn: WebhookHandler,
  options: HandlerToolOptions = {},
) {
  return server.registerTool(
    name,
    {
      description: options.description ?? 'Gateway only: turn a verified webhook into triggers',
      inputSchema: webhookInputSchema,
    },
    (input, ctx) => run(name, ctx, () => triggersAnswer(fn(input, ctx))),
  );
}

/** A schedule handler (manifest `schedules[].handler`): `{schedule, fireTime}` → triggers. */
export function registerScheduleHandler(
  server: McpServer,
  name: string,
  fn: ScheduleHandler,
  options: HandlerToolOptions = {},
) {
  return server.registerTool(
    name,
    {
      description: options.description ?? 'Gateway only: turn a schedule fire into triggers',
      inputSchema: scheduleInputSchema,
    },
    (input, ctx) => run(name, ctx, () => triggersAnswer(fn(input, ctx))),
  );
}

export interface DispatcherOptions<C> extends HandlerToolOptions {
  /** Checks `dispatch.config` (what the trigger's session asked for); its errors name the field. */
  config?: z.ZodType<C>;
}

export type DispatcherCall<C> = Omit<DispatcherInput, 'dispatch'> & {
  dispatch: { type: string; config: C };
};

/**
 * A dispatcher (manifest `dispatchers[].handler`): delivers a finished task where its session
 * points. Whatever `fn` returns is the answer's structuredContent (an object; anything else
 * becomes `{delivered: true}`); the gateway only looks at whether it failed. A throw is an
 * isError result, so the outbox retries the delivery with backoff.
 */
export function registerDispatcher<C = Record<string, unknown> | undefined>(
  server: McpServer,
  name: string,
  fn: (input: DispatcherCall<C>, ctx: ServerContext) => Awaitable<unknown>,
  options: DispatcherOptions<C> = {},
) {
  return server.registerTool(
    name,
    {
      description: options.description ?? 'Gateway only: deliver a finished task',
      inputSchema: dispatcherInputSchema,
    },
    (input, ctx) =>
      run(name, ctx, async () => {
        let config = input.dispatch.config as C;
        if (options.config) {
          const checked = options.config.safeParse(input.dispatch.config ?? {});
          if (!checked.success) {
            const problems = checked.error.issues
              .map(
                (i) =>
                  `dispatch.config${i.path.map((p) => `.${String(p)}`).join('')}: ${i.message}`,
              )
              .join('; ');
            throw new HandlerResultError(`${name}: invalid dispatch config`, problems);
          }
          config = checked.data;
        }
        const answer = await fn({ ...input, dispatch: { type: input.dispatch.type, config } }, ctx);
        const data =
          answer !== null && typeof answer === 'object' && !Array.isArray(answer)
            ? (answer as Record<string, unknown>)
            : { delivered: true };
        return { text: JSON.stringify(data), data };
      }),
  );
}
