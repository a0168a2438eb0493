import { type NextFunction, type Request, type Response, Router } from 'express';
import type { Logger } from '../log.ts';
import { type ConsoleAsset, consoleAssets } from './assets.ts';
import { type ConsoleSessionDeps, consoleSessionRoutes } from './session.ts';

/**
 * The console's policy: scripts and styles only from this origin (no inline script, no eval),
 * data only from this origin's API, never framed. Sent on every /console answer.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Content-Security-Policy', CONSOLE_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  next();
}

function send(req: Request, res: Response, file: ConsoleAsset): void {
  res.setHeader('Content-Type', file.type);
  res.setHeader('ETag', file.etag);
  res.setHeader('Vary', 'Accept-Encoding');
  res.setHeader(
    'Cache-Control',
    file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
  );
  if (req.get('if-none-match') === file.etag) {
    res.status(304).end();
    return;
  }
  const gzip = /\bgzip\b/.test(req.get('accept-encoding') ?? '');
  if (gzip) res.setHeader('Content-Encoding', 'gzip');
  res.end(req.method === 'HEAD' ? undefined : gzip ? file.gzip : file.body);
}

/** /console: the operator console (issue 16), same origin as the API it calls. */
export function consoleRoutes(deps: ConsoleSessionDeps & { log: Logger }): Router {
  const router = Router();
  router.use('/console', securityHeaders);
  router.use('/console', consoleSessionRoutes(deps));
  router.get('/console', (req, res, next) => {
    // /console → /console/, so the page's relative asset paths resolve under /console/.
    if (!req.originalUrl.startsWith('/console/')) {
      res.redirect(301, '/console/');
      return;
    }
    next();
  });
  router.get(/^\/console\/([A-Za-z0-9.-]*)$/, async (req, res, next) => {
    const name = (req.params as Record<string, string>)[0] ?? '';
    let assets: Awaited<ReturnType<typeof consoleAssets>>;
    try {
      assets = await consoleAssets();
    } catch (error) {
      deps.log.error({ err: error }, 'console: could not bundle gateway/console');
      throw error;
    }
    const file = assets.files.get(name);
    if (!file) return next();
    send(req, res, file);
  });
  return router;
}
