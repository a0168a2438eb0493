import express, { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { sameOrigin } from '../api/auth.ts';
import { appendAudit } from '../audit/store.ts';
import type { Pool } from '../db/connect.ts';
import { SwitchboardError } from '../errors.ts';
import {
  CSRF_HEADER,
  csrfTokenFor,
  csrfTokenMatches,
  generateSessionToken,
  hashSessionToken,
  sessionCookie,
  sessionTokenFrom,
} from '../keys/console-cookie.ts';
import {
  type ConsoleSessionRow,
  deleteDeadConsoleSessions,
  endConsoleSession,
  endExcessConsoleSessions,
  findLiveConsoleSession,
  insertConsoleSession,
} from '../keys/console-sessions.ts';
import { hashApiKey } from '../keys/format.ts';
import { findActiveApiKey } from '../keys/store.ts';
import { RateLimiter } from '../rate-limit.ts';
import { parseInput } from '../validate.ts';

/**
 * /console/session: sign in (an operator API key for a session cookie), who am I (with the CSRF
 * token the console's writes carry), sign out. Everything else the console does goes through
 * /api/v1 with the cookie (api/auth.ts).
 */

/** A session lives 12 h from sign-in, however active: a lost laptop's cookie stops working. */
export const CONSOLE_SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/**
 * Failed sign-ins per client address and minute; past them every attempt is refused (429) until
 * the bucket refills. Keys hold 256 random bits, so this guards the database, not the keys.
 */
const FAILED_SIGN_INS_PER_MINUTE = 20;

const SignInBody = z.strictObject({
  key: z
    .string({ error: 'expected key: an operator API key (sbk_…)' })
    .trim()
    .min(1, 'expected key: an operator API key (sbk_…)')
    .max(256, 'expected an API key of at most 256 characters'),
});

export interface ConsoleSessionDeps {
  sql: Pool;
  /** The public base URL: an https one makes the cookie Secure and `__Host-` prefixed. */
  publicUrl: () => string;
}

export function consoleSessionRoutes(deps: ConsoleSessionDeps): Router {
  const { sql } = deps;
  const failedSignIns = new RateLimiter(10_000);
  const router = Router();
  const secure = (req: Request) => req.secure || deps.publicUrl().startsWith('https:');
  // The answers carry the CSRF token: never stored by a cache on the way.
  router.use('/session', (_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });

  router.post('/session', express.json({ limit: 4096, strict: true }), async (req, res) => {
    if (!sameOrigin(req, deps.publicUrl())) {
      throw new SwitchboardError('forbidden', 'sign in from the console itself');
    }
    const client = req.ip ?? 'unknown';
    const wait = failedSignIns.wait(client, FAILED_SIGN_INS_PER_MINUTE);
    if (wait > 0) {
      res.setHeader('Retry-After', String(wait));
      throw new SwitchboardError('rate_limited', `too many failed sign-ins: retry in ${wait} s`);
    }
    const { key } = parseInput(SignInBody, req.body, 'sign-in');
    const apiKey = await findActiveApiKey(sql, hashApiKey(key));
    if (!apiKey) {
      failedSignIns.take(client, FAILED_SIGN_INS_PER_MINUTE);
      throw new SwitchboardError('unauthorized', 'invalid or revoked API key');
    }
    if (apiKey.integration) {
      throw new SwitchboardError(
        'forbidden',
        `this key belongs to the integration ${apiKey.integration}'s processes: sign in with an operator key`,
      );
    }
    const { token, hash } = generateSessionToken();
    const userAgent = req.get('user-agent')?.slice(0, 200) ?? null;
    const session = await sql.begin(async (tx) => {
      const row = await insertConsoleSession(tx, {
        tokenHash: hash,
        apiKeyId: apiKey.id,
        ttlMs: CONSOLE_SESSION_TTL_MS,
        userAgent,
      });
      const ended = await endExcessConsoleSessions(tx, apiKey.id);
      await deleteDeadConsoleSessions(tx, apiKey.id);
      await appendAudit(tx, {
        actor: `key:${apiKey.prefix}`,
        apiKeyId: apiKey.id,
        requestId: req.id,
        action: 'console.sign_in',
        target: apiKey.prefix,
        details: { session: row.id, userAgent, ...(ended > 0 && { endedOldest: ended }) },
      });
      return row;
    });
    res.setHeader('Set-Cookie', sessionCookie(token, CONSOLE_SESSION_TTL_MS, secure(req)));
    res.status(201).json(
      sessionAnswer(token, {
        id: session.id,
        expiresAt: session.expiresAt,
        key: {
          id: apiKey.id,
          prefix: apiKey.prefix,
          name: apiKey.name,
          scopes: apiKey.scopes,
          integration: null,
        },
      }),
    );
  });

  // Not signed in is an answer here, not an error: the page asks on every load, and a 401 would
  // put a red line in every visitor's browser console.
  router.get('/session', async (req, res) => {
    const token = sessionTokenFrom(req.get('cookie'));
    const session = token && (await findLiveConsoleSession(sql, hashSessionToken(token)));
    res.json(token && session ? sessionAnswer(token, session) : { key: null });
  });

  router.delete('/session', async (req, res) => {
    const { token, session } = await liveSession(sql, req);
    if (!sameOrigin(req, deps.publicUrl()) || !csrfTokenMatches(token, req.get(CSRF_HEADER))) {
      throw new SwitchboardError('forbidden', `sign out from the console (${CSRF_HEADER})`);
    }
    await sql.begin(async (tx) => {
      if (!(await endConsoleSession(tx, session.id))) return;
      await appendAudit(tx, {
        actor: `key:${session.key.prefix}`,
        apiKeyId: session.key.id,
        requestId: req.id,
        action: 'console.sign_out',
        target: session.key.prefix,
        details: { session: session.id },
      });
    });
    clearCookie(res, secure(req));
    res.status(204).end();
  });

  return router;
}

async function liveSession(
  sql: Pool,
  req: Request,
): Promise<{ token: string; session: ConsoleSessionRow }> {
  const token = sessionTokenFrom(req.get('cookie'));
  const session = token && (await findLiveConsoleSession(sql, hashSessionToken(token)));
  if (!token || !session) {
    throw new SwitchboardError('unauthorized', 'not signed in (or the session expired)');
  }
  return { token, session };
}

function clearCookie(res: Response, secure: boolean): void {
  res.setHeader('Set-Cookie', sessionCookie('', 0, secure));
}

/** What the console knows of its session: never the key, never the cookie's value. */
function sessionAnswer(token: string, session: ConsoleSessionRow) {
  return {
    key: { prefix: session.key.prefix, name: session.key.name, scopes: session.key.scopes },
    csrfToken: csrfTokenFor(token),
    expiresAt: session.expiresAt,
  };
}
