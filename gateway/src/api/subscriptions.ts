import { Router } from 'express';
import type { Pool } from '../db/connect.ts';
import {
  createSubscription,
  deleteSubscription,
  listSubscriptions,
  SubscriptionInput,
} from '../outbox/subscriptions.ts';
import { parseInput } from '../validate.ts';
import { actorOf, requireScope } from './auth.ts';
import { subscriptionView } from './schemas-outbox.ts';

/** /api/v1/subscriptions: signed webhooks of task events for operators (issue 6). */
export function subscriptionsRoutes(deps: { sql: Pool; masterKey: Buffer }): Router {
  const router = Router();

  // The secret is in this response and nowhere else (stored encrypted, never listed).
  router.post('/subscriptions', requireScope('subscriptions:write'), async (req, res) => {
    const input = parseInput(SubscriptionInput, req.body ?? {}, 'subscription');
    const { subscription, secret } = await createSubscription(
      deps.sql,
      deps.masterKey,
      input,
      actorOf(req),
    );
    res.status(201).json({ subscription: subscriptionView(subscription), secret });
  });

  router.get('/subscriptions', requireScope('subscriptions:read'), async (_req, res) => {
    res.json({ subscriptions: (await listSubscriptions(deps.sql)).map(subscriptionView) });
  });

  router.delete('/subscriptions/:id', requireScope('subscriptions:write'), async (req, res) => {
    const row = await deleteSubscription(deps.sql, req.params.id as string, actorOf(req));
    res.json({ subscription: subscriptionView(row) });
  });

  return router;
}
