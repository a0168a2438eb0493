import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

declare module 'express-serve-static-core' {
  interface Request {
    /** From a sane incoming X-Request-Id, else generated; echoed in the response. */
    id: string;
  }
}

const INCOMING_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestId(req: Request, res: Response, next: NextFunction): void {
  const incoming = req.get('x-request-id');
  req.id = incoming && INCOMING_ID.test(incoming) ? incoming : randomUUID();
  res.setHeader('X-Request-Id', req.id);
  next();
}

/**
 * Express resets `req.baseUrl` when a request leaves a mounted router, so by the time the
 * response finishes the mount path is gone. Mount this first in every mounted router to keep it.
 */
export function rememberMountPath(req: Request, res: Response, next: NextFunction): void {
  res.locals.mountPath = req.baseUrl;
  next();
}

/** The route pattern that matched (`/api/v1/keys/:id`), never the raw path: keeps label sets small. */
export function routeLabel(req: Request, res: Response): string {
  const route = req.route as { path?: unknown } | undefined;
  if (typeof route?.path !== 'string') return '(unmatched)';
  const mount = typeof res.locals.mountPath === 'string' ? res.locals.mountPath : '';
  return `${mount}${route.path}`;
}
