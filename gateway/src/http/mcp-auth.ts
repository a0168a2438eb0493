import { INTEGRATION_NAME } from '@switchboard/sdk';
import { type Response, Router } from 'express';
import type { TokenVerifier } from '../tokens/claims.ts';
import { decodeJwt } from '../tokens/jwt.ts';
import { sendErrorBody } from './errors.ts';

/**
 * What an MCP client without a usable token is told, and where. The gateway is an OAuth
 * protected resource but no authorization server: operators grant the tokens (switchboard
 * token grant, a task's mcp-config), nothing issues them by OAuth. So its RFC 9728 documents
 * name no `authorization_servers`, and a refusal says why, in the 401's WWW-Authenticate
 * (RFC 6750 `error`, `error_description`) and its JSON body.
 *
 * OAuth-capable clients (mcp-remote, the MCP SDK's) try OAuth on any 401 anyway: finding no
 * authorization server metadata they fall back to dynamic client registration at the origin's
 * `/register`, and show the user only that request's answer. So `/register` answers with the
 * cause too (a 401, as a registration endpoint that requires a token does, RFC 7591 §3), rather
 * than a 404 that says nothing about the token.
 *
 * Nothing taken from the request goes into a header: the texts are ours, and integration names
 * there have passed the name rule.
 */

/** The built-in server's path segment (runners/bundle.ts SWITCHBOARD_SERVER). */
export const BUILTIN = 'switchboard';

/** Whether a path segment could name an MCP endpoint of the gateway. */
export function isEndpointName(name: string): boolean {
  return name === BUILTIN || INTEGRATION_NAME.test(name);
}

const HOW_TO_GET_ONE =
  'Switchboard issues no tokens by OAuth and registers no clients: an operator grants a token ' +
  "(switchboard token grant, or a task's mcp-config) that the client sends as " +
  'Authorization: Bearer <token>';

/** Why a request's credentials were not accepted. */
export interface Refusal {
  /** RFC 6750 error code; none when no credentials were sent at all (RFC 6750 §3.1). */
  error: 'invalid_token' | undefined;
  /** Our own words, safe in a quoted header value. */
  description: string;
}

export const NO_TOKEN: Refusal = {
  error: undefined,
  description: 'no bearer token was sent',
};

export function invalidToken(reason: string): Refusal {
  return { error: 'invalid_token', description: headerSafe(reason) };
}

/** Answers 401 with the challenge and a JSON body that states the cause. */
export function sendUnauthorized(res: Response, refusal: Refusal, resourceMetadata?: string) {
  res.set('www-authenticate', challenge(refusal, resourceMetadata));
  sendErrorBody(res, refusal.error ?? 'unauthorized', refusal.description, {
    hint: HOW_TO_GET_ONE,
  });
}

function challenge(refusal: Refusal, resourceMetadata: string | undefined): string {
  const parts = ['Bearer realm="switchboard"'];
  if (resourceMetadata) parts.push(`resource_metadata="${resourceMetadata}"`);
  if (refusal.error) {
    parts.push(`error="${refusal.error}"`, `error_description="${refusal.description}"`);
  }
  return parts.join(', ');
}

/** RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E (no `"` or `\`). */
function headerSafe(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, "'").slice(0, 300);
}

/**
 * RFC 9728 metadata of /mcp and of every /mcp/<name> that could exist (the answer does not
 * depend on whether it does), and the `/register` fallback.
 */
export function mcpAuthRoutes(deps: { tokens: TokenVerifier; publicUrl: () => string }): Router {
  const router = Router();
  const metadata = (name: string | undefined) => ({
    resource: `${deps.publicUrl()}/mcp${name ? `/${name}` : ''}`,
    bearer_methods_supported: ['header'],
    resource_name: name ? `Switchboard: ${name}` : 'Switchboard',
  });
  router.get('/.well-known/oauth-protected-resource/mcp', (_req, res) => {
    res.json(metadata(undefined));
  });
  router.get('/.well-known/oauth-protected-resource/mcp/:name', (req, res) => {
    const name = req.params.name as string;
    if (!isEndpointName(name)) {
      sendErrorBody(res, 'not_found', 'no such protected resource');
      return;
    }
    res.json(metadata(name));
  });

  router.post('/register', (req, res, next) => {
    explain(req.get('authorization'), deps)
      .then((refusal) => {
        res.set('www-authenticate', challenge(refusal, undefined));
        res.status(401).json({
          error: refusal.error ?? 'invalid_request',
          error_description: `${refusal.description}. ${HOW_TO_GET_ONE}`,
        });
      })
      .catch(next);
  });
  return router;
}

/**
 * Why the token in `authorization` is of no use, for a client that had a 401 somewhere and no
 * longer says where: checked against the endpoint it names itself, so a valid token of another
 * endpoint is told apart from an invalid one.
 */
async function explain(
  authorization: string | undefined,
  deps: { tokens: TokenVerifier; publicUrl: () => string },
): Promise<Refusal> {
  const token = bearerToken(authorization);
  if (token === undefined) return NO_TOKEN;
  const endpoint = claimedEndpoint(token, deps.publicUrl());
  try {
    await deps.tokens.verify(token, endpoint ?? `${deps.publicUrl()}/mcp`);
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    if (code === 'invalid_token' && message) return invalidToken(message);
    throw error;
  }
  // Valid, for the endpoint it names: the client used it elsewhere (the 401 it had said so).
  return invalidToken(`the token was issued for another endpoint: the token is for ${endpoint}`);
}

/** The token of a `Bearer` Authorization header, if it has that form. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(authorization ?? '');
  return match?.[1];
}

/** The token's `aud`, if it is one of this gateway's MCP endpoints (else it proves nothing). */
function claimedEndpoint(token: string, publicUrl: string): string | undefined {
  let audience: unknown;
  try {
    // Unverified: only to say which endpoint the token names, never to accept it.
    audience = decodeJwt(token).payload.aud;
  } catch {
    return undefined;
  }
  if (typeof audience !== 'string') return undefined;
  if (audience === `${publicUrl}/mcp`) return audience;
  const prefix = `${publicUrl}/mcp/`;
  return audience.startsWith(prefix) && isEndpointName(audience.slice(prefix.length))
    ? audience
    : undefined;
}
