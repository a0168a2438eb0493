import { randomUUID } from 'node:crypto';
import type { ManifestWebhook } from '@switchboard/sdk';
import { type Request, type Response, Router } from 'express';
import type { Counter } from 'prom-client';
import type { Pool } from '../db/connect.ts';
import { insertDelivery } from '../deliveries/store.ts';
import { SwitchboardError } from '../errors.ts';
import type { PublishTaskEvents } from '../events/task-events.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import type { Logger } from '../log.ts';
import { UNKNOWN_LABEL } from '../tasks/tool-events.ts';
import { currentTraceparent, inSpan } from '../telemetry/spans.ts';
import { DeliveryInserter } from './ingest-batch.ts';
import { IngressLimit } from './ingress-limit.ts';
import { DEFAULT_WEBHOOK_BODY_BYTES, readRawBody } from './raw-body.ts';
import { storableHeaders, verifyWebhook } from './signatures.ts';
import { answerSync } from './sync.ts';

/**
 * POST /hooks/<integration>/<endpoint>: the manifest webhooks, outside the API's auth. Order
 * matters and is the contract: raw bytes (capped) → signature on those bytes → the endpoint's
 * ingress limit (ingress-limit.ts; for scheme none before the body is read) → JSON check →
 * the delivery committed → only then the answer (202, or the handler's own in sync mode). A
 * request refused at any step stores nothing. A delivery id (or, for github, a body) seen
 * before is answered 200 {"duplicate": true} and not processed again.
 */

export interface WebhookRoutesDeps {
  sql: Pool;
  log: Logger;
  registry: IntegrationRegistry;
  publish: PublishTaskEvents;
  /** Tells this process's delivery worker a row is waiting (other replicas poll). */
  wakeDeliveries: () => void;
  /**
   * Settles once the registry has judged every integration. The gateway listens before that
   * (background processes need its URL), and a request that came in the few ms between would
   * find no webhook (404) or no secret (503): senders such as GitHub do not retry those.
   */
  loaded?: Promise<void>;
  /** switchboard_webhook_requests_total (http/metrics.ts); absent in tests that mount alone. */
  webhookRequests?: Pick<Counter<'integration' | 'outcome' | 'reason'>, 'inc'>;
}

/** A start that takes longer than this answers 503 with Retry-After instead of waiting on. */
const LOAD_WAIT_MS = 10_000;

/** Settled promises, so a request after the start pays no race and no timer. */
const settled = new WeakSet<Promise<void>>();

async function whenLoaded(loaded: Promise<void> | undefined): Promise<void> {
  if (!loaded || settled.has(loaded)) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), LOAD_WAIT_MS);
  });
  const outcome = await Promise.race([
    loaded.then(() => {
      settled.add(loaded);
      return 'ok' as const;
    }),
    late,
  ]).finally(() => clearTimeout(timer));
  if (outcome === 'late') {
    throw new SwitchboardError('starting', 'the gateway is starting; retry in a few seconds', {
      details: { retryAfterSeconds: 5 },
    });
  }
}

const notMounted = (path: string) =>
  new SwitchboardError('webhook_unknown', `no webhook is mounted at ${path}`);

function findWebhook(
  registry: IntegrationRegistry,
  integration: string,
  endpoint: string,
): { webhook: ManifestWebhook; secret: string | undefined } {
  const item = registry.get(integration);
  const webhook = item?.manifest?.webhooks.find((w) => w.name === endpoint);
  if (!item || !webhook) throw notMounted(`/hooks/${integration}/${endpoint}`);
  // A refused or stopped integration accepts nothing (fail closed: a refusal is often a missing
  // secret). One that is starting or failed still accepts: deliveries wait in the queue.
  if (item.state === 'refused' || item.state === 'stopped') {
    // The reasons (a missing setting's name) are for operators, not for anyone on the internet.
    throw new SwitchboardError(
      'integration_unavailable',
      `integration ${integration} is ${item.state}, so its webhooks refuse every request (operators: switchboard integrations list)`,
    );
  }
  const key = webhook.verify.secret;
  const secret = key ? item.settings.find((s) => s.key === key)?.value : undefined;
  return { webhook, secret };
}

/** JSON bodies must parse (a handler should never be sent bytes it cannot read); others pass. */
function checkJson(req: Request, body: Buffer): void {
  const type = req.headers['content-type']?.toLowerCase() ?? 'application/json';
  if (!type.includes('json')) return;
  try {
    JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new SwitchboardError(
      'invalid_json',
      `webhook body is not valid JSON: ${(error as Error).message}`,
    );
  }
}

/**
 * The async answers, written without express's res.json → res.send (charset and freshness
 * checks, a second header pass): the same bytes and Content-Type, one writeHead + end.
 */
function answer(res: Response, status: number, body: Record<string, unknown>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * On every answer under /hooks, whatever a sync handler asks (sync.ts lets it set none of
 * these): no browser guesses a type other than the one sent, and a body a handler labels
 * text/html runs no script and loads nothing on the gateway's origin.
 */
const HOOK_ANSWER_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; sandbox",
};

export function webhookRoutes(deps: WebhookRoutesDeps): Router {
  const router = Router();
  const inserter = new DeliveryInserter(deps.sql);
  const ingress = new IngressLimit();
  router.use((_req: Request, res: Response, next) => {
    for (const [name, value] of Object.entries(HOOK_ANSWER_HEADERS)) res.setHeader(name, value);
    next();
  });
  // Counted once per request. The integration label is a name the registry holds, else
  // `unknown`: a sender's made-up path adds no time series; a refusal's reason is its error code.
  router.post('/hooks/:integration/:endpoint', async (req: Request, res: Response) => {
    const label = () => {
      const name = req.params.integration as string;
      return deps.registry.get(name) ? name : UNKNOWN_LABEL;
    };
    try {
      const outcome = await receive(req, res);
      deps.webhookRequests?.inc({ integration: label(), outcome, reason: 'none' });
    } catch (error) {
      const reason = error instanceof SwitchboardError ? error.code : 'internal';
      deps.webhookRequests?.inc({ integration: label(), outcome: 'refused', reason });
      throw error;
    }
  });

  async function receive(req: Request, res: Response): Promise<'accepted' | 'duplicate'> {
    const integration = req.params.integration as string;
    const endpoint = req.params.endpoint as string;
    await whenLoaded(deps.loaded);
    const { webhook, secret } = findWebhook(deps.registry, integration, endpoint);
    const scheme = webhook.verify.scheme;
    const limit = () => {
      const { perMinute, retryAfterS } = ingress.take(
        deps.registry.currentPolicy(),
        integration,
        endpoint,
        scheme,
      );
      if (retryAfterS === 0) return;
      res.setHeader('retry-after', String(retryAfterS));
      throw new SwitchboardError(
        'rate_limited',
        `over ${perMinute} requests a minute to /hooks/${integration}/${endpoint}; retry in ${retryAfterS} s`,
        { details: { retryAfterSeconds: retryAfterS } },
      );
    };
    // Unsigned: before the body is even read. Signed: once the signature holds (below).
    if (scheme === 'none') limit();
    const body = await readRawBody(req, webhook.maxBodyBytes ?? DEFAULT_WEBHOOK_BODY_BYTES);
    const { deliveryId, bodySha256 } = inSpan(
      'webhook verify',
      {
        attributes: {
          'switchboard.integration': integration,
          'switchboard.webhook.endpoint': endpoint,
          'switchboard.webhook.scheme': scheme,
          'http.request.body.size': body.length,
        },
      },
      () => verifyWebhook({ scheme, secret, body, headers: req.headers }),
    );
    if (scheme !== 'none') limit();
    checkJson(req, body);
    const headers = storableHeaders(req.headers);
    // The request's span: the delivery's processing, its tasks and their dispatch continue it.
    const traceParent = currentTraceparent();
    const commit = {
      attributes: {
        'switchboard.integration': integration,
        'switchboard.webhook.delivery_id': deliveryId.slice(0, 200),
      },
    };
    if (webhook.mode === 'sync') {
      const lease = { token: randomUUID(), ms: 60_000 };
      const id = await inSpan('webhook commit', commit, () =>
        insertDelivery(deps.sql, {
          integration,
          endpoint,
          deliveryId,
          headers,
          body,
          bodySha256,
          lease,
          traceParent,
        }),
      );
      if (id === undefined) {
        answer(res, 200, { duplicate: true, deliveryId });
        return 'duplicate';
      }
      await answerSync(deps, res, {
        id,
        integration,
        endpoint,
        deliveryId,
        headers,
        body,
        leaseToken: lease.token,
      });
      return 'accepted';
    }
    const id = await inSpan('webhook commit', commit, () =>
      inserter.insert({
        integration,
        endpoint,
        deliveryId,
        headers,
        body,
        bodySha256,
        traceParent,
      }),
    );
    if (id === undefined) {
      answer(res, 200, { duplicate: true, deliveryId });
      return 'duplicate';
    }
    deps.wakeDeliveries();
    answer(res, 202, { accepted: true, id, deliveryId });
    return 'accepted';
  }
  router.all('/hooks/:integration/:endpoint', (req: Request) => {
    throw new SwitchboardError('method_not_allowed', `${req.method} is not allowed: POST only`);
  });
  return router;
}
