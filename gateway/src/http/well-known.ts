import { Router } from 'express';
import type { TokenService } from '../tokens/service.ts';

/**
 * Public discovery documents. JWKS: the keys that may verify a task token, including a rotation's
 * next key before it signs. Integrations (the sdk's verifyGatewayToken) and jose's remote key
 * sets cache it; 5 minutes keeps them well inside a rotation's 10-minute overlap.
 */
export function wellKnownRoutes(deps: { tokens: TokenService }): Router {
  const router = Router();
  router.get('/.well-known/jwks.json', (_req, res) => {
    res.set('cache-control', 'public, max-age=300');
    res.json(deps.tokens.jwks());
  });
  return router;
}
