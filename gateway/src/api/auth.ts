import type { NextFunction, Request, Response } from 'express';
import type { Sql } from '../db/connect.ts';
import { SwitchboardError } from '../errors.ts';
import {
  CSRF_HEADER,
  csrfTokenMatches,
  hashSessionToken,
  sessionTokenFrom,
} from '../keys/console-cookie.ts';
import { findLiveConsoleSession, touchConsoleSession } from '../keys/console-sessions.ts';
import { hashApiKey } from '../keys/format.ts';
import { hasScope, type Scope } from '../keys/scopes.ts';
import { findActiveApiKey, touchApiKey } from '../keys/store.ts';
import type { Logger } from '../log.ts';

export interface AuthenticatedKey {
  id: string;
  prefix: string;
  name: string;
  scopes: string[];
  /** Set for a key provisioned for an integration's processes: it may touch only its sessions. */
  integration: string | null;
}

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by the API key middleware on /api/v1 (and on /metrics when the policy asks for a key). */
    apiKey?: AuthenticatedKey;
    /** Set when the request was authenticated by a console session cookie (console/session.ts). */
    consoleSessionId?: string;
  }
}

const unauthorized = (message: string) => new SwitchboardError('unauthorized', message);

/** Methods that change nothing: a console session needs no CSRF token for them. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Every /api/v1 request carries `Authorization: Bearer sbk_…`, or the console's session cookie
 * (issue 16); unknown and revoked keys look alike. A bearer key wins over a cookie.
 */
export function authenticateApiKey(sql: Sql, log: Logger, publicUrl?: () => string) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    res.setHeader('WWW-Authenticate', 'Bearer realm="switchboard"');
    const header = req.get('authorization');
    if (!header) {
      const token = sessionTokenFrom(req.get('cookie'));
      if (token === undefined) {
        throw unauthorized('missing API key: send Authorization: Bearer sbk_…');
      }
      await authenticateConsoleSession(sql, log, req, token, publicUrl?.());
      res.removeHeader('WWW-Authenticate');
      next();
      return;
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const key = match?.[1];
    // Generated keys look like sbk_…, but SWITCHBOARD_ADMIN_KEY may be any 32–256 characters.
    if (!key || key.length > 256) {
      throw unauthorized('malformed Authorization header: expected Bearer <API key>');
    }
    const row = await findActiveApiKey(sql, hashApiKey(key));
    if (!row) throw unauthorized('invalid or revoked API key');
    res.removeHeader('WWW-Authenticate');
    req.apiKey = {
      id: row.id,
      prefix: row.prefix,
      name: row.name,
      scopes: row.scopes,
      integration: row.integration,
    };
    touchApiKey(sql, row.id).catch((error: unknown) =>
      log.warn({ err: error, key: row.prefix }, 'could not record API key use'),
    );
    next();
  };
}

/**
 * The console's cookie in place of a key: the session must be live and its key active (a revoked
 * key ends its sessions at once). A write must also come from this origin (Origin and
 * Sec-Fetch-Site, where the browser sends them) and carry the session's CSRF token.
 */
async function authenticateConsoleSession(
  sql: Sql,
  log: Logger,
  req: Request,
  token: string,
  publicUrl: string | undefined,
): Promise<void> {
  const session = await findLiveConsoleSession(sql, hashSessionToken(token));
  if (!session) {
    throw unauthorized('the console session has expired or was signed out: sign in again');
  }
  if (!SAFE_METHODS.has(req.method)) {
    if (!sameOrigin(req, publicUrl)) {
      throw new SwitchboardError('forbidden', 'a console write must come from the console itself');
    }
    if (!csrfTokenMatches(token, req.get(CSRF_HEADER))) {
      throw new SwitchboardError(
        'forbidden',
        `missing or wrong CSRF token: a console write carries the session's token in ${CSRF_HEADER}`,
      );
    }
  }
  req.apiKey = { ...session.key };
  req.consoleSessionId = session.id;
  touchConsoleSession(sql, session.id).catch((error: unknown) =>
    log.warn({ err: error, key: session.key.prefix }, 'could not record console session use'),
  );
}

/**
 * Browsers send Origin on every cross-origin write and Sec-Fetch-Site on all of them. The origin
 * is this request's Host, or the gateway's public URL (a reverse proxy may rewrite Host).
 */
export function sameOrigin(req: Request, publicUrl?: string): boolean {
  const site = req.get('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin') return false;
  const origin = req.get('origin');
  if (origin === undefined) return true;
  try {
    const from = new URL(origin);
    if (publicUrl !== undefined && from.origin === new URL(publicUrl).origin) return true;
    return from.host === req.get('host');
  } catch {
    return false;
  }
}

export function requireScope(scope: Scope) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (!req.apiKey) throw unauthorized('missing API key: send Authorization: Bearer sbk_…');
    if (!hasScope(req.apiKey.scopes, scope)) {
      throw new SwitchboardError('forbidden', `this API key lacks the scope ${scope}`, {
        details: { requiredScope: scope },
      });
    }
    next();
  };
}

/** The audit actor for a request made with an API key. */
export function actorOf(req: Request): { actor: string; apiKeyId?: string; requestId: string } {
  return req.apiKey
    ? { actor: `key:${req.apiKey.prefix}`, apiKeyId: req.apiKey.id, requestId: req.id }
    : { actor: 'anonymous', requestId: req.id };
}
