import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { insertDelivery } from '../../gateway/src/deliveries/store.ts';
import { TriggerBatcher } from '../../gateway/src/deliveries/store-triggers.ts';
import type { TaskEvent } from '../../gateway/src/events/store.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { REPO_ROOT, type TestGateway } from './gateway.ts';

/**
 * The delivery worker's result batches driven by a test (webhooks-batch.test.ts, issue 6, and
 * webhooks-drain-batch.test.ts, issue 20), on the hooks fixture's gateway.
 */
export const WEBHOOK_FIXTURES = path.join(REPO_ROOT, 'test/fixtures/webhooks');

/** A delivery row leased to the test, as the worker's claim would leave it (no worker takes it). */
export async function leasedDelivery(gw: TestGateway) {
  const token = randomUUID();
  const id = await insertDelivery(gw.sql, {
    integration: 'hooks',
    endpoint: 'github',
    deliveryId: randomUUID(),
    headers: {},
    body: Buffer.from('{}'),
    lease: { token, ms: 60_000 },
  });
  return { id: id!, integration: 'hooks', leaseToken: token };
}

/** A TriggerBatcher on the gateway's database and registry, and the events it published. */
export function triggerBatcher(gw: TestGateway) {
  const published: TaskEvent[] = [];
  const b = new TriggerBatcher(
    {
      sql: gw.sql,
      registry: gw.registry,
      publish: async (events) => void published.push(...events),
    },
    createLogger('silent'),
  );
  return { b, published };
}
