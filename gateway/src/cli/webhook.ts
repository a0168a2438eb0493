import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import type { SignatureScheme } from '@switchboard/sdk';
import type { IntegrationEndpoints } from '../api/integrations.ts';
import { SwitchboardError, UsageError } from '../errors.ts';
import { DEFAULT_EVENT, webhookEventHeaders } from '../webhooks/sign.ts';
import { type Command, HELP_OPTION, parseCommandArgs, showHelp } from './command.ts';
import { callGateway, gatewayBase, unreachable } from './gateway-api.ts';

const usage = `Usage:
  switchboard webhook send INTEGRATION ENDPOINT [--event E] [--file BODY.json | --data JSON]
                           [--header K:V]... [--timeout SECONDS] [--no-wait]

Sends a signed test request to the running gateway's POST /hooks/INTEGRATION/ENDPOINT, as the
endpoint's sender would: the body is signed in the endpoint's scheme (standard, github, slack;
none is sent unsigned) with the secret the gateway verifies with. The gateway signs it (POST
/api/v1/integrations/INTEGRATION/webhooks/ENDPOINT/sign): the secret never leaves it, and this
works while the gateway holds the embedded database.

The event goes where the scheme puts it: github in X-GitHub-Event (default "ping"); standard,
slack and none carry it in the body's "type", so --event there sets the default body's "type" (defaults: standard and
none "switchboard.test", slack "event_callback") and cannot be combined with --file/--data (set
"type" in your body). Without --file/--data the body is a small JSON object shaped like the
sender's own (GitHub's ping, a Standard Webhooks payload, Slack's envelope) with a fresh id:
github and slack deduplicate on the body's hash, so a fixed body would be a duplicate.

Prints the HTTP answer (for a sync endpoint, the handler's own response), then waits up to
--timeout seconds (default 30, at most 600) for the delivery's outcome and prints it with the
tasks it started; --no-wait skips that. Exit 0 when accepted and processed (done or ignored),
1 when refused (401, 404, 413, …), answered as a duplicate, when the delivery failed, or when it
has no outcome in time.

Through SWITCHBOARD_URL (default http://HOST:PORT) with SWITCHBOARD_API_KEY (or
SWITCHBOARD_ADMIN_KEY): scopes integrations:read and integrations:write (to sign), and
deliveries:read to wait.`;

/** A delivery that is still pending or processing after this is reported as such (30 s). */
const DEFAULT_WAIT_S = 30;
/** The longest wait one may ask for: 10 minutes, longer than any handler's retry schedule start. */
const MAX_WAIT_S = 600;
/** One GET /deliveries/:id this often while waiting: a handler's answer usually takes ~100 ms. */
const POLL_MS = 250;
/** A sync answer is looked up among this many newest deliveries of the integration (one page). */
const SYNC_LOOKUP = 50;
/** Headers given with --header: each at most this many, so the request stays a test request. */
const MAX_HEADERS = 50;

type WebhookView = IntegrationEndpoints['webhooks'][number];

interface DeliveryView {
  id: string;
  deliveryId: string;
  status: string;
  attempts: number;
  error: string | null;
  tasks?: Array<{ id: string; status: string }>;
}

const TERMINAL = new Set(['done', 'ignored', 'failed']);

async function findWebhook(
  ctx: Parameters<Command['run']>[1],
  integration: string,
  endpoint: string,
): Promise<WebhookView> {
  let detail: Record<string, unknown>;
  try {
    detail = await callGateway(
      ctx.env,
      usage,
      'GET',
      `/integrations/${encodeURIComponent(integration)}`,
    );
  } catch (error) {
    if (error instanceof SwitchboardError && error.details?.status === 404) {
      const list = await callGateway(ctx.env, usage, 'GET', '/integrations');
      const names = (list.integrations as Array<{ name: string }>).map((i) => i.name);
      throw new SwitchboardError(
        'not_found',
        `no integration named ${JSON.stringify(integration)} (known: ${names.join(', ') || 'none'})`,
      );
    }
    throw error;
  }
  const item = detail.integration as { webhooks: WebhookView[] };
  const webhook = item.webhooks.find((w) => w.name === endpoint);
  if (!webhook) {
    const known = item.webhooks.map((w) => w.name).join(', ') || 'none';
    throw new SwitchboardError(
      'webhook_unknown',
      `integration ${integration} has no webhook ${JSON.stringify(endpoint)} (its webhooks: ${known})`,
    );
  }
  return webhook;
}

/**
 * A body each send makes anew: github and slack deduplicate on the body's hash (signatures.ts),
 * so a fixed `{}` would be a duplicate from the second send on. Shaped like each sender's own:
 * GitHub's ping (`zen`), a Standard Webhooks payload (`type`, `timestamp`, `data`), Slack's
 * envelope (`type`, `event_id`, `event_time`).
 */
function defaultBody(scheme: SignatureScheme, event: string): Record<string, unknown> {
  const now = new Date();
  const id = randomUUID();
  switch (scheme) {
    case 'github':
      return { zen: `switchboard webhook send ${id}` };
    case 'standard':
      return { type: event, timestamp: now.toISOString(), data: { id } };
    case 'slack':
      return { type: event, event_id: `Ev${id}`, event_time: Math.floor(now.getTime() / 1000) };
    case 'none':
      return { type: event, id };
  }
}

/** The bytes to send: --file as read, --data as given, else the scheme's default body. */
async function bodyOf(
  values: { file?: string | undefined; data?: string | undefined; event?: string | undefined },
  scheme: SignatureScheme,
): Promise<{ bytes: Buffer; event: string }> {
  if (values.file !== undefined && values.data !== undefined)
    throw new UsageError('--file and --data: give the body one way', usage);
  const explicit = values.file !== undefined || values.data !== undefined;
  const event = values.event ?? DEFAULT_EVENT[scheme];
  if (scheme !== 'github' && explicit && values.event !== undefined)
    throw new UsageError(
      `--event with --file/--data: scheme ${scheme} carries the event in the body, set its "type" there`,
      usage,
    );
  let bytes: Buffer;
  if (values.file !== undefined) {
    try {
      bytes = await fs.readFile(values.file);
    } catch (error) {
      throw new UsageError(`--file ${values.file}: ${(error as Error).message}`, usage);
    }
  } else if (values.data !== undefined) bytes = Buffer.from(values.data, 'utf8');
  else bytes = Buffer.from(JSON.stringify(defaultBody(scheme, event)), 'utf8');
  let text: string;
  try {
    // The gateway signs the body as text: bytes that are not UTF-8 would be signed as others.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError('the body is not UTF-8 text', usage);
  }
  try {
    JSON.parse(text);
  } catch (error) {
    throw new UsageError(`the body is not valid JSON: ${(error as Error).message}`, usage);
  }
  return { bytes, event };
}

function headersOf(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if ((list?.length ?? 0) > MAX_HEADERS)
    throw new UsageError(`at most ${MAX_HEADERS} --header options`, usage);
  for (const item of list ?? []) {
    const colon = item.indexOf(':');
    if (colon <= 0)
      throw new UsageError(`--header: expected K:V, found ${JSON.stringify(item)}`, usage);
    out[item.slice(0, colon).trim().toLowerCase()] = item.slice(colon + 1).trim();
  }
  return out;
}

/** The id the gateway dedupes on (signatures.ts verifyWebhook), to find a sync delivery. */
function expectedDeliveryId(
  scheme: SignatureScheme,
  headers: Record<string, string>,
  body: Buffer,
) {
  if (scheme === 'standard') return headers['webhook-id'];
  if (scheme === 'github') return headers['x-github-delivery'];
  if (scheme === 'slack') return `sha256:${createHash('sha256').update(body).digest('hex')}`;
  return headers['idempotency-key'];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function showDelivery(
  ctx: Parameters<Command['run']>[1],
  id: string,
  waitS: number,
): Promise<number> {
  const deadline = Date.now() + waitS * 1000;
  let delivery: DeliveryView;
  for (;;) {
    let json: Record<string, unknown>;
    try {
      json = await callGateway(ctx.env, usage, 'GET', `/deliveries/${encodeURIComponent(id)}`);
    } catch (error) {
      // The send worked; a key without deliveries:read just cannot watch it.
      if (error instanceof SwitchboardError && error.details?.status === 403) {
        ctx.out(
          `(not waiting: the API key lacks deliveries:read) switchboard deliveries show ${id}`,
        );
        return 0;
      }
      throw error;
    }
    delivery = json.delivery as DeliveryView;
    if (TERMINAL.has(delivery.status) || Date.now() >= deadline) break;
    await sleep(POLL_MS);
  }
  ctx.out(
    `delivery ${delivery.id} ${delivery.status} after ${delivery.attempts} attempt(s)${delivery.error ? `: ${delivery.error}` : ''}`,
  );
  const tasks = delivery.tasks ?? [];
  ctx.out(
    tasks.length === 0
      ? 'tasks    none'
      : `tasks    ${tasks.map((t) => `${t.id} (${t.status})`).join(', ')}`,
  );
  if (delivery.status === 'failed') return 1;
  if (!TERMINAL.has(delivery.status)) {
    ctx.err(
      `switchboard: no outcome within ${waitS} s (still ${delivery.status}); follow it with: switchboard deliveries show ${delivery.id}`,
    );
    return 1;
  }
  return 0;
}

async function send(args: string[], ctx: Parameters<Command['run']>[1]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    {
      ...HELP_OPTION,
      event: { type: 'string' },
      file: { type: 'string' },
      data: { type: 'string' },
      header: { type: 'string', multiple: true },
      timeout: { type: 'string' },
      'no-wait': { type: 'boolean' },
    },
    usage,
    { min: 2, max: 2 },
  );
  if (values.help) return showHelp(ctx, usage);
  const [integration, endpoint] = positionals as [string, string];
  const waitS = values.timeout === undefined ? DEFAULT_WAIT_S : Number(values.timeout);
  if (!Number.isInteger(waitS) || waitS < 1 || waitS > MAX_WAIT_S)
    throw new UsageError(`--timeout: expected whole seconds from 1 to ${MAX_WAIT_S}`, usage);
  const extra = headersOf(values.header as string[] | undefined);
  const webhook = await findWebhook(ctx, integration, endpoint);
  const { bytes, event } = await bodyOf(values, webhook.scheme);
  const signed = await callGateway(
    ctx.env,
    usage,
    'POST',
    `/integrations/${encodeURIComponent(integration)}/webhooks/${encodeURIComponent(endpoint)}/sign`,
    { body: bytes.toString('utf8') },
  );
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ...webhookEventHeaders(webhook.scheme, event),
    ...extra,
    ...(signed.headers as Record<string, string>),
  };
  const url = `${gatewayBase(ctx.env)}/hooks/${encodeURIComponent(integration)}/${encodeURIComponent(endpoint)}`;
  ctx.out(
    `POST ${url} (${webhook.scheme}${webhook.scheme === 'github' ? `, event ${event}` : ''}, ${webhook.mode}, ${bytes.length} bytes)`,
  );
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers,
      body: bytes,
      // A sync handler has 2.5 s (webhooks/sync.ts); an async answer is one commit.
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw unreachable(gatewayBase(ctx.env), error);
  }
  const text = await res.text();
  ctx.out(`HTTP ${res.status} ${res.statusText}`);
  if (text) ctx.out(text);
  if (!res.ok) return 1;
  let answer: Record<string, unknown> = {};
  try {
    answer = JSON.parse(text) as Record<string, unknown>;
  } catch {}
  if (answer.duplicate === true) {
    ctx.err(
      `switchboard: a duplicate of delivery ${String(answer.deliveryId)}, not processed again (github and slack deduplicate on the body's hash: change the body to send it again)`,
    );
    return 1;
  }
  if (values['no-wait']) return 0;
  if (typeof answer.id === 'string' && res.status === 202)
    return showDelivery(ctx, answer.id, waitS);
  // Sync: the handler answered; find the row by the id the gateway deduped on.
  const senderId = expectedDeliveryId(webhook.scheme, headers, bytes);
  if (senderId === undefined) return 0;
  const list = await callGateway(
    ctx.env,
    usage,
    'GET',
    `/deliveries?integration=${encodeURIComponent(integration)}&limit=${SYNC_LOOKUP}`,
  ).catch((error: unknown) => {
    if (error instanceof SwitchboardError && error.details?.status === 403) return undefined;
    throw error;
  });
  const row = (list?.deliveries as DeliveryView[] | undefined)?.find(
    (d) => d.deliveryId === senderId,
  );
  return row ? showDelivery(ctx, row.id, waitS) : 0;
}

export const webhook: Command = {
  name: 'webhook',
  summary: 'send a signed test request to a webhook endpoint',
  usage,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    if (sub === 'send') return send(rest, ctx);
    throw new UsageError(
      sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`,
      usage,
    );
  },
};
