import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { InProcessBus } from '../../gateway/src/db/bus.ts';
import type { Pool } from '../../gateway/src/db/connect.ts';
import { taskEventPublisher } from '../../gateway/src/events/task-events.ts';
import type { IntegrationRegistry } from '../../gateway/src/integrations/registry.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { createPostWebhook } from '../../gateway/src/outbox/post-webhook.ts';
import { OutboxWorker } from '../../gateway/src/outbox/worker.ts';

/**
 * A local receiver for outbox tests: each path answers the statuses queued for it in turn (the
 * last one repeats; 200 when none) and records every request with its exact body and headers.
 */
export interface Received {
  path: string;
  body: string;
  headers: Record<string, string>;
}

export async function startReceiver() {
  const plans = new Map<string, Array<{ status: number; headers?: Record<string, string> }>>();
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, String(v)]),
      );
      received.push({ path, body: Buffer.concat(chunks).toString('utf8'), headers });
      const plan = plans.get(path) ?? [];
      const next = (plan.length > 1 ? plan.shift() : plan[0]) ?? { status: 200 };
      res.writeHead(next.status, next.headers).end(`answer ${next.status}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: (path: string) => `${base}${path}`,
    plan: (path: string, answers: Array<{ status: number; headers?: Record<string, string> }>) =>
      void plans.set(path, [...answers]),
    requests: (path: string) => received.filter((r) => r.path === path),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The production poster (outbox/post-webhook.ts: the SSRF-guarded client, Standard Webhooks
 * signing) with the receivers' loopback address allowed, as policy dispatch.allowHosts would.
 */
export const loopbackPostWebhook = createPostWebhook(() => ['127.0.0.1']);

export const noIntegrations = {
  list: () => [],
  get: () => undefined,
  // No policy: internal dispatch then leaves the profile check to the tests that pass one.
  currentPolicy: () => undefined,
} as unknown as IntegrationRegistry;

export const MASTER_KEY = Buffer.alloc(32, 7);

/** A worker on its own in-process bus, with a short backoff so retries come at once. */
export function startWorker(
  sql: Pool,
  extra: Partial<Parameters<typeof OutboxWorker.start>[0]> = {},
): Promise<OutboxWorker> {
  const log = createLogger('silent');
  const bus = new InProcessBus();
  return OutboxWorker.start({
    sql,
    log,
    registry: noIntegrations,
    bus,
    publish: taskEventPublisher(bus, log),
    masterKey: MASTER_KEY,
    postWebhook: loopbackPostWebhook,
    retryScheduleMs: [20, 20, 20],
    pollMs: 50,
    ...extra,
  });
}
