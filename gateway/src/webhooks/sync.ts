import type { WebhookResponse } from '@switchboard/sdk';
import type { Response } from 'express';
import type { Pool } from '../db/connect.ts';
import { retryOrFailDelivery } from '../deliveries/store.ts';
import { type DeliveryJob, processDelivery } from '../deliveries/worker.ts';
import { SwitchboardError } from '../errors.ts';
import type { PublishTaskEvents } from '../events/task-events.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import type { Logger } from '../log.ts';

/**
 * `mode: sync`: the handler answers the HTTP request itself (Slack's url_verification must echo
 * the challenge in the response). The row is committed first, leased to this request; the
 * handler then has SYNC_DEADLINE_MS. If it answers in time, its triggers and the row's `done`
 * commit together and its `response` is sent. If not (or it fails), the row goes back to the
 * queue for the delivery worker to retry and the sender gets 202: it was accepted all the same.
 */

/** Slack waits 3 s for an answer; 2.5 s leaves it the network round trip. */
export const SYNC_DEADLINE_MS = 2_500;

/**
 * The headers a handler may set on its answer: the body's type and language, caching, and
 * Retry-After (a 429 or 503 the sender should honour). Everything else is dropped: Set-Cookie
 * would plant cookies for the gateway's origin, Access-Control-* would open it to other sites,
 * Location would send the sender elsewhere, hop-by-hop ones (RFC 9110 §7.6.1) belong to this
 * connection, and the length and encoding are the gateway's to compute.
 */
const ALLOWED_RESPONSE_HEADERS = new Set([
  'content-type',
  'content-language',
  'cache-control',
  'retry-after',
]);

/** Header names are tokens; values printable (no CR/LF: no header injection). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export function safeResponseHeaders(headers: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!ALLOWED_RESPONSE_HEADERS.has(lower) || !TOKEN.test(name) || !VALUE.test(value)) continue;
    out[lower] = value;
  }
  return out;
}

function send(res: Response, response: WebhookResponse | undefined): void {
  if (!response) {
    res.status(200).json({ ok: true });
    return;
  }
  res.status(response.status).set(safeResponseHeaders(response.headers));
  if (response.body === undefined) res.end();
  else if (typeof response.body === 'string') {
    if (!res.get('content-type')) res.type('text/plain');
    res.send(response.body);
  } else res.json(response.body);
}

export interface SyncDeps {
  sql: Pool;
  log: Logger;
  registry: IntegrationRegistry;
  publish: PublishTaskEvents;
  wakeDeliveries: () => void;
}

export async function answerSync(
  deps: SyncDeps,
  res: Response,
  row: Omit<DeliveryJob, 'kind'>,
): Promise<void> {
  const log = deps.log.child({
    integration: row.integration,
    endpoint: row.endpoint,
    delivery: row.id,
  });
  try {
    const { outcome, response } = await processDelivery(
      deps,
      { ...row, kind: 'webhook' },
      { timeoutMs: SYNC_DEADLINE_MS },
    );
    if (outcome)
      log.info(
        { triggers: outcome.triggers, tasks: outcome.tasks.length },
        'delivery processed (sync)',
      );
    send(res, response);
  } catch (error) {
    const retryable = !(error instanceof SwitchboardError) || error.retryable;
    const message = error instanceof Error ? error.message : String(error);
    log.warn(
      { err: error, retryable },
      'sync webhook handler did not answer; queued for the worker',
    );
    await retryOrFailDelivery(deps.sql, row.id, row.leaseToken, {
      error: message.slice(0, 10_000),
      retryInMs: retryable ? 0 : null,
    }).catch((storeError: unknown) =>
      // The lease expires in 60 s and recovery requeues it: delayed, not lost.
      log.error({ err: storeError }, 'could not requeue a sync delivery'),
    );
    deps.wakeDeliveries();
    res
      .status(202)
      .json({ accepted: true, id: row.id, deliveryId: row.deliveryId, deferred: true });
  }
}
