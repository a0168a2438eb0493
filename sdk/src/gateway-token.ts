import { createRemoteJWKSet, errors, type JWTVerifyGetKey, jwtVerify } from 'jose';
import * as z from 'zod';

/**
 * For HTTP integrations: check the token the gateway sends with each request it forwards. The
 * gateway never passes an agent's token upstream; it mints one for the integration (`aud` = its
 * name, `sub` = task:<id>, `scope` = the tools being called, one minute of life) signed with the
 * key published at `<gateway>/.well-known/jwks.json`. The gateway's own requests (connecting,
 * listing tools, calling webhook handlers) carry `sub` = gateway and `scope` = <integration>:*.
 *
 *   const verify = gatewayTokenVerifier();              // SWITCHBOARD_URL, SWITCHBOARD_INTEGRATION
 *   const claims = await verify(request);               // throws GatewayTokenError (status 401)
 */
export interface GatewayTokenOptions {
  /** The gateway's public URL (`iss`); default SWITCHBOARD_URL from the environment. */
  gatewayUrl?: string;
  /** This integration's name (`aud`); default SWITCHBOARD_INTEGRATION from the environment. */
  integration?: string;
  /** Where the keys are; default `<gatewayUrl>/.well-known/jwks.json`. */
  jwksUrl?: string;
}

export interface GatewayTokenClaims {
  /** `task` for a call an agent made; `gateway` for the gateway's own (listing tools, handlers). */
  caller: 'task' | 'gateway';
  /** The task the call belongs to (undefined for the gateway's own calls). */
  taskId: string | undefined;
  sessionId: string | undefined;
  /** `integration:tool` entries: the tools this request may call. */
  scope: string[];
  expiresAt: number;
}

export class GatewayTokenError extends Error {
  readonly status = 401;
  readonly code = 'invalid_token';
}

const Claims = z.object({
  sub: z.union([z.string().regex(/^task:.+/), z.literal('gateway')]),
  scope: z.string(),
  sid: z.string().optional(),
  exp: z.number(),
});

/** Anything with headers: a fetch Request, or a node IncomingMessage. */
type WithHeaders =
  | { headers: Headers }
  | { headers: Record<string, string | string[] | undefined> };

function authorization(request: WithHeaders): string | undefined {
  const { headers } = request;
  if (headers instanceof Headers) return headers.get('authorization') ?? undefined;
  const value = headers.authorization;
  return Array.isArray(value) ? value[0] : value;
}

export function gatewayTokenVerifier(
  options: GatewayTokenOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): (request: WithHeaders) => Promise<GatewayTokenClaims> {
  const gatewayUrl = (options.gatewayUrl ?? env.SWITCHBOARD_URL)?.replace(/\/+$/, '');
  const integration = options.integration ?? env.SWITCHBOARD_INTEGRATION;
  if (!gatewayUrl || !integration) {
    // At construction, so a misconfigured integration fails at boot, not at the first request.
    throw new Error(
      'gatewayTokenVerifier: set SWITCHBOARD_URL and SWITCHBOARD_INTEGRATION (the gateway passes both to its processes) or pass gatewayUrl and integration',
    );
  }
  // jose caches the key set (10 min) and refetches on an unknown kid at most every 30 s.
  const keys: JWTVerifyGetKey = createRemoteJWKSet(
    new URL(options.jwksUrl ?? `${gatewayUrl}/.well-known/jwks.json`),
    { timeoutDuration: 5_000 },
  );
  return async (request) => {
    const match = /^Bearer (\S+)$/i.exec(authorization(request) ?? '');
    if (!match) throw new GatewayTokenError('missing bearer token');
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(match[1]!, keys, {
        algorithms: ['EdDSA'],
        typ: 'at+jwt',
        issuer: gatewayUrl,
        audience: integration,
        requiredClaims: ['exp', 'iat', 'jti', 'sub'],
        clockTolerance: 5,
      }));
    } catch (error) {
      const reason =
        error instanceof errors.JWTExpired
          ? 'token expired'
          : error instanceof errors.JWTClaimValidationFailed
            ? `token ${error.claim} is not valid here`
            : 'token not valid';
      throw new GatewayTokenError(reason, { cause: error });
    }
    const claims = Claims.safeParse(payload);
    if (!claims.success) throw new GatewayTokenError('token lacks the task claims');
    const { sub } = claims.data;
    return {
      caller: sub === 'gateway' ? 'gateway' : 'task',
      taskId: sub === 'gateway' ? undefined : sub.slice('task:'.length),
      sessionId: claims.data.sid,
      scope: claims.data.scope.split(' ').filter((s) => s !== ''),
      expiresAt: claims.data.exp,
    };
  };
}
