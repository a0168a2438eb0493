/**
 * @switchboard/sdk/testing — offline test utilities for integration authors: sign a webhook
 * body exactly as GitHub, Slack or a Standard Webhooks sender does (what the gateway verifies,
 * gateway/src/webhooks/signatures.ts), build the arguments the gateway passes a webhook
 * handler, and call a handler tool on any MCP client (in memory or stdio), checking its answer
 * against the contract the gateway applies. No gateway, no network, no MCP package needed.
 */
import { createHmac, randomUUID } from 'node:crypto';
import {
  type HandlerResult,
  SECRET_WEBHOOK_HEADERS,
  type WebhookInput,
  webhookInputSchema,
} from './handlers.ts';
import type { SignatureScheme } from './manifest-shape.ts';
import { parseHandlerResult } from './results.ts';

export type SignedScheme = Exclude<SignatureScheme, 'none'>;

export interface SignOptions {
  /** The delivery id: `webhook-id` (standard) or `X-GitHub-Delivery` (github); default a UUID. */
  id?: string;
  /** When it was sent (standard, slack): the gateway accepts ±5 minutes; default now. */
  at?: Date;
  /** `X-GitHub-Event` (github); default `ping`. */
  event?: string;
  /** Sent too, e.g. content-type; the signature headers win on a clash. */
  headers?: Record<string, string>;
}

/** Standard Webhooks secrets are base64, optionally `whsec_`-prefixed (as the spec's libraries). */
const STANDARD_PREFIX = 'whsec_';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function standardKey(secret: string): Buffer {
  const encoded = secret.startsWith(STANDARD_PREFIX)
    ? secret.slice(STANDARD_PREFIX.length)
    : secret;
  if (encoded === '' || !BASE64.test(encoded)) {
    throw new Error(
      'signWebhook: a Standard Webhooks secret is base64, optionally prefixed whsec_ (e.g. whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw)',
    );
  }
  return Buffer.from(encoded, 'base64');
}

const hmac = (key: string | Buffer, ...parts: Array<string | Buffer>) => {
  const mac = createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return mac;
};

/**
 * The request headers a sender of `scheme` signs `body` with (lowercased names, with
 * content-type application/json unless `opts.headers` says otherwise). POST `body`'s exact
 * bytes with them to /hooks/<integration>/<endpoint>.
 *
 *   const headers = signWebhook('standard', 'whsec_…', body, { id: 'msg_1' });
 */
export function signWebhook(
  scheme: SignedScheme,
  secret: string,
  body: string | Buffer,
  opts: SignOptions = {},
): Record<string, string> {
  if (!secret)
    throw new Error('signWebhook: an empty secret (the gateway refuses unsigned requests)');
  const base = { 'content-type': 'application/json', ...lowercased(opts.headers ?? {}) };
  const seconds = String(Math.floor((opts.at ?? new Date()).getTime() / 1000));
  switch (scheme) {
    case 'standard': {
      const id = opts.id ?? `msg_${randomUUID()}`;
      // The standardwebhooks package signs the body as text: `${id}.${seconds}.${body}`.
      const text = typeof body === 'string' ? body : body.toString();
      const signature = hmac(standardKey(secret), `${id}.${seconds}.${text}`).digest('base64');
      return {
        ...base,
        'webhook-id': id,
        'webhook-timestamp': seconds,
        'webhook-signature': `v1,${signature}`,
      };
    }
    case 'github':
      return {
        ...base,
        'x-github-event': opts.event ?? 'ping',
        'x-github-delivery': opts.id ?? randomUUID(),
        'x-hub-signature-256': `sha256=${hmac(secret, body).digest('hex')}`,
      };
    case 'slack':
      return {
        ...base,
        'x-slack-request-timestamp': seconds,
        'x-slack-signature': `v0=${hmac(secret, `v0:${seconds}:`, body).digest('hex')}`,
      };
    default:
      throw new Error(
        `signWebhook: unknown scheme ${JSON.stringify(scheme)}, expected standard, github or slack`,
      );
  }
}

function lowercased(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

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
    Object.entries(lowercased(headers)).filter(([name]) => !SECRET_WEBHOOK_HEADERS.has(name)),
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
