import { Router } from 'express';
import type { Pool } from '../db/connect.ts';
import { createKey, listKeys, revokeKey } from '../keys/service.ts';
import { actorOf, requireScope } from './auth.ts';

export function keysRoutes(sql: Pool): Router {
  const router = Router();

  router.get('/keys', requireScope('keys:read'), async (req, res) => {
    const includeRevoked = req.query.includeRevoked === 'true';
    res.json({ keys: await listKeys(sql, includeRevoked) });
  });

  // The key is in this response and nowhere else: only its hash is stored. Its scopes are
  // within the creating key's own (keys/service.ts).
  router.post('/keys', requireScope('keys:write'), async (req, res) => {
    const created = await createKey(sql, req.body, 'api', {
      ...actorOf(req),
      scopes: req.apiKey?.scopes,
    });
    res.status(201).json(created);
  });

  router.delete('/keys/:id', requireScope('keys:write'), async (req, res) => {
    res.json({ apiKey: await revokeKey(sql, req.params.id as string, actorOf(req)) });
  });

  return router;
}
