import type { NextFunction, Request, Response } from 'express';
import type { Sql } from '../db/connect.ts';
import { SwitchboardError } from '../errors.ts';
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
  }
}

const unauthorized = (message: string) => new SwitchboardError('unauthorized', message);

/** Every /api/v1 request carries `Authorization: Bearer sbk_…`; unknown and revoked keys look alike. */
export function authenticateApiKey(sql: Sql, log: Logger) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    res.setHeader('WWW-Authenticate', 'Bearer realm="switchboard"');
    const header = req.get('authorization');
    if (!header) throw unauthorized('missing API key: send Authorization: Bearer sbk_…');
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
