/**
 * @switchboard/sdk/testing — offline test utilities for integration authors: sign a webhook
 * body exactly as GitHub, Slack or a Standard Webhooks sender does (what the gateway verifies,
 * gateway/src/webhooks/signatures.ts), build the arguments the gateway passes a webhook
 * handler, and call a handler tool on any MCP client (in memory or stdio), checking its answer
 * against the contract the gateway applies. No gateway, no network, no MCP package needed.
 */
import { randomUUID } from 'node:crypto';
import {
  type HandlerResult,
  SECRET_WEBHOOK_HEADERS,
  type WebhookInput,
  webhookInputSchema,
} from './handlers.ts';
import { parseHandlerResult } from './results.ts';
import { lowercasedHeaders } from './webhook-signing.ts';

export { type SignedScheme, type SignOptions, signWebhook } from './webhook-signing.ts';

/**
 * The arguments the gateway passes a webhook handler for this request: names lowercased,
 * signature and credential headers dropped, the delivery id the scheme's header carries (or
 * `opts.deliveryId`, or a new UUID).
 */
export function webhookInput(
  endpoint: string,
  body: string,
  headers: Record<string, string> = {},
  opts: { deliveryId?: string } = {},
): WebhookInput {
  const kept = Object.fromEntries(
    Object.entries(lowercasedHeaders(headers)).filter(
      ([name]) => !SECRET_WEBHOOK_HEADERS.has(name),
    ),
  );
  const deliveryId =
    opts.deliveryId ?? kept['webhook-id'] ?? kept['x-github-delivery'] ?? randomUUID();
  return webhookInputSchema.parse({ endpoint, headers: kept, body, deliveryId });
}

/** The part of an MCP client callHandler uses: @modelcontextprotocol/client's Client fits. */
export interface ToolCaller {
  callTool(params: { name: string; arguments?: Record<string, unknown> }): Promise<unknown>;
}

interface ToolAnswer {
  isError?: boolean;
  structuredContent?: unknown;
  content?: Array<{ type: string; text?: string }>;
}

/**
 * Calls a handler tool as the gateway does and returns its answer: structuredContent, or else
 * its text parsed as JSON. Throws when the tool answers isError (with the tool's text) or when
 * the answer is not JSON. `validate` checks it (default: the handler result contract of
 * on_webhook / on_schedule; pass `(v) => v` for a dispatcher, whose answer is free-form).
 */
export async function callHandler<T = HandlerResult>(
  client: ToolCaller,
  tool: string,
  args: Record<string, unknown>,
  validate: (answer: unknown) => T = parseHandlerResult as (answer: unknown) => T,
): Promise<T> {
  const answer = (await client.callTool({ name: tool, arguments: args })) as ToolAnswer;
  const text = (answer.content ?? [])
    .filter((c) => c.type === 'text' && typeof c.text === 'string')
    .map((c) => c.text)
    .join('\n');
  if (answer.isError) throw new Error(`${tool} answered an error: ${text || '(no text)'}`);
  if (answer.structuredContent !== undefined) return validate(answer.structuredContent);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(
      `${tool}: expected structuredContent or JSON text, found ${JSON.stringify(text.slice(0, 200))}`,
    );
  }
  return validate(parsed);
}
