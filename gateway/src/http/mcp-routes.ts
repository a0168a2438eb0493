import { DEFAULT_MAX_IN_FLIGHT } from '@switchboard/policy';
import express, { type NextFunction, type Request, type Response, Router } from 'express';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import type { Logger } from '../log.ts';
import { BATCH_REFUSED } from '../mcp/http-bridge.ts';
import { LocalRateLimits, type RequestRateLimits } from '../rate-limit.ts';
import {
  type TokenClaims,
  type TokenRefusalReason,
  type TokenVerifier,
  tokenRefusalReason,
} from '../tokens/claims.ts';
import { scopeCoversIntegration } from '../tokens/scope.ts';
import { ConcurrencyLimiter, inFlightCap } from './concurrency.ts';
import { sendErrorBody } from './errors.ts';
import { leanJson } from './json-body.ts';
import {
  BUILTIN,
  bearerToken,
  invalidToken,
  isEndpointName,
  mcpAuthRoutes,
  NO_TOKEN,
  sendUnauthorized,
} from './mcp-auth.ts';
import type { Metrics } from './metrics.ts';
import { sequence } from './sequence.ts';
import { TokenExchanges } from './token-exchanges.ts';

/** What serves an authenticated MCP request (gateway/src/mcp/endpoint.ts). */
export interface McpHandler {
  handle(
    req: Request,
    res: Response,
    claims: TokenClaims,
    integration: string | undefined,
    parsedBody?: unknown,
  ): Promise<void>;
}

export interface McpRoutesDeps {
  tokens: TokenVerifier;
  registry: IntegrationRegistry;
  endpoint: McpHandler;
  log: Logger;
  /** The public base URL, no trailing slash. */
  publicUrl: () => string;
  /**
   * The built-in task tools at /mcp/switchboard (mcp/task-tools.ts), behind the same guard; the
   * route comes before /mcp/:integration, so no integration can take that path.
   */
  taskTools?: McpHandler;
  /** switchboard_token_verifications_total (metrics.ts); absent in tests that build routes alone. */
  metrics?: Pick<Metrics, 'tokenVerifications'>;
  /**
   * The per-task `rateLimit.requestsPerMinute` buckets: in the database on PostgreSQL (exact
   * across replicas, db/rate-buckets.ts), in this process otherwise (and by default).
   */
  rateLimits?: RequestRateLimits;
}

/**
 * A tool call's arguments can be large (a file, a diff); 4 MiB is well above any real one and
 * still bounds what one request can make the gateway hold.
 */
export const MCP_BODY_LIMIT = 4 * 1024 * 1024;

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/**
 * /mcp and /mcp/<integration> with what the MCP authorization spec asks of a resource server:
 * Host and Origin validated (403, against DNS rebinding), a bearer token whose audience is the
 * endpoint called (401 otherwise, saying why: mcp-auth.ts), 403 `insufficient_scope` for an
 * integration outside the token's scope, RFC 9728 metadata, and the policy's per-integration
 * rate limit per task (429 with Retry-After; every token of the task counts together).
 *
 * Before a token is accepted, /mcp/<name> answers the same for every name (L6): whether an
 * integration exists, is refused or could not exist is only told to a caller whose token is
 * valid for that endpoint, and the name itself never reaches a header.
 */
export function mcpRoutes(deps: McpRoutesDeps): Router {
  const router = Router();
  const limiter = deps.rateLimits ?? new LocalRateLimits();
  // Before the policy loads (or when it does not), the schema's default.
  const inFlight = inFlightCap(
    new ConcurrencyLimiter(),
    () => deps.registry.currentPolicy()?.tokens.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
  );
  // Every exchange is cut when its token is revoked or expires (streams must not outlive it).
  const exchanges = new TokenExchanges();
  deps.tokens.onRevoked?.((taskIds, tokenIds, kids) => exchanges.revoke(taskIds, tokenIds, kids));
  const allowedHosts = allowedHostsFor();

  const refused = (reason: TokenRefusalReason) =>
    deps.metrics?.tokenVerifications.inc({ outcome: 'refused', reason });

  const guard = (req: Request, res: Response, next: NextFunction) => {
    const named = req.params.integration as string | undefined;
    const integration = named ?? (res.locals.builtin as string | undefined);
    const refusal = hostOrOriginRefusal(req, allowedHosts(deps.publicUrl()));
    if (refusal) {
      sendErrorBody(res, 'forbidden', refusal);
      return;
    }
    // /mcp's challenge names its metadata; a /mcp/<name> one does not (it would differ per
    // name): clients find it at the well-known path of the endpoint (RFC 9728 §3.1).
    const metadata =
      integration === undefined
        ? `${deps.publicUrl()}/.well-known/oauth-protected-resource/mcp`
        : undefined;
    const token = bearerToken(req.get('authorization'));
    if (token === undefined) {
      refused('missing');
      return sendUnauthorized(res, NO_TOKEN, metadata);
    }
    // Only compared with the token's audience: a name that is no name matches no token.
    const audience = `${deps.publicUrl()}/mcp${integration !== undefined ? `/${integration}` : ''}`;
    deps.tokens
      .verify(token, audience)
      .then(
        (claims) => {
          if (integration !== undefined) {
            if (
              !isEndpointName(integration) ||
              (integration !== res.locals.builtin && !deps.registry.get(integration))
            ) {
              sendErrorBody(res, 'not_found', noIntegration(integration));
              return;
            }
            if (!scopeCoversIntegration(claims.scope, integration)) {
              refused('insufficient_scope');
              res.set(
                'www-authenticate',
                `Bearer realm="switchboard", error="insufficient_scope", scope="${integration}:*"`,
              );
              sendErrorBody(
                res,
                'insufficient_scope',
                `the token grants no tool of ${integration}`,
              );
              return;
            }
          }
          deps.metrics?.tokenVerifications.inc({ outcome: 'accepted', reason: 'none' });
          res.locals.claims = claims;
          exchanges.track(claims, res);
          next();
        },
        (error: Error & { code?: string }) => {
          if (error.code !== 'invalid_token') return next(error);
          refused(tokenRefusalReason(error));
          sendUnauthorized(res, invalidToken(error.message), metadata);
        },
      )
      .catch(next);
  };

  const limit = (req: Request, res: Response, next: NextFunction) => {
    const claims = res.locals.claims as TokenClaims;
    const integration =
      (req.params.integration as string | undefined) ?? aggregateCallTarget(req.body);
    const perMinute =
      integration === undefined
        ? undefined
        : deps.registry.currentPolicy()?.integrations[integration]?.rateLimit?.requestsPerMinute;
    if (perMinute === undefined || integration === undefined) {
      next();
      return;
    }
    const answer = (wait: number) => {
      if (wait === 0) {
        next();
        return;
      }
      res.set('retry-after', String(wait));
      sendErrorBody(
        res,
        'rate_limited',
        `over ${perMinute} requests a minute to ${integration} for this task; retry in ${wait} s`,
      );
    };
    // The local buckets answer at once; the database's (never rejecting: it fails open) later.
    const wait = limiter.take(claims.taskId, integration, perMinute);
    if (typeof wait === 'number') answer(wait);
    else wait.then(answer).catch(next);
  };

  const serve = (req: Request, res: Response, next: NextFunction) => {
    const integration = req.params.integration as string | undefined;
    deps.endpoint
      .handle(req, res, res.locals.claims as TokenClaims, integration, req.body)
      .catch(next);
  };

  const json = leanJson(
    MCP_BODY_LIMIT,
    express.json({ limit: MCP_BODY_LIMIT, strict: false, type: 'application/json' }),
  );
  if (deps.taskTools) {
    const tools = deps.taskTools;
    const builtin = (_req: Request, res: Response, next: NextFunction) => {
      res.locals.builtin = BUILTIN;
      next();
    };
    const serveBuiltin = (req: Request, res: Response, next: NextFunction) => {
      tools.handle(req, res, res.locals.claims as TokenClaims, BUILTIN, req.body).catch(next);
    };
    router.all(
      `/mcp/${BUILTIN}`,
      sequence(builtin, guard, json, jsonRpcParseErrors, refuseBatches, inFlight, serveBuiltin),
    );
  }
  const chain = sequence(guard, json, jsonRpcParseErrors, refuseBatches, limit, inFlight, serve);
  for (const path of ['/mcp', '/mcp/:integration']) router.all(path, chain);
  // After the MCP routes (no path in common): an MCP call no longer passes its router first.
  router.use(mcpAuthRoutes(deps));
  return router;
}

/** In /mcp, tools/call names carry their integration: `github__get_pr` → github. */
function aggregateCallTarget(body: unknown): string | undefined {
  const message = body as { method?: unknown; params?: { name?: unknown } } | undefined;
  if (message?.method !== 'tools/call' || typeof message.params?.name !== 'string')
    return undefined;
  const at = message.params.name.indexOf('__');
  return at > 0 ? message.params.name.slice(0, at) : undefined;
}

/**
 * A JSON-RPC batch (an array body) is refused before any work, rate limit included: MCP dropped
 * batching in 2025-06-18 (every later revision sends one message per POST), and a batch of N
 * calls was N calls for one request of the per-integration rate limit.
 */
function refuseBatches(req: Request, res: Response, next: NextFunction): void {
  if (Array.isArray(req.body)) res.status(400).json(BATCH_REFUSED);
  else next();
}

/** A body that is not JSON is a JSON-RPC parse error (-32700), as MCP clients expect. */
function jsonRpcParseErrors(error: unknown, _req: Request, res: Response, next: NextFunction) {
  const e = error as { type?: string; status?: number };
  if (e.type === 'entity.parse.failed') {
    res
      .status(400)
      .json({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
    return;
  }
  next(error);
}

function noIntegration(name: string): string {
  const named = isEndpointName(name) ? ` named ${JSON.stringify(name)}` : ' by that name';
  return `no integration${named}`;
}

/**
 * DNS rebinding: a page on evil.example resolving to 127.0.0.1 reaches us with Host
 * evil.example and Origin http://evil.example. Host must be the public URL's host (or, for a
 * loopback public URL, a loopback name with its port); an Origin, if sent, its origin.
 */
function hostOrOriginRefusal(
  req: Request,
  { base, allowedHosts }: AllowedHosts,
): string | undefined {
  const host = req.get('host');
  if (!host || !allowedHosts.has(host.toLowerCase())) {
    return `Host ${JSON.stringify(host ?? '')} is not this gateway (${base.host})`;
  }
  const origin = req.get('origin');
  if (origin !== undefined) {
    let originHost: string;
    try {
      originHost = new URL(origin).host;
    } catch {
      return `Origin ${JSON.stringify(origin)} is not allowed`;
    }
    if (!allowedHosts.has(originHost)) return `Origin ${JSON.stringify(origin)} is not allowed`;
  }
  return undefined;
}

interface AllowedHosts {
  base: URL;
  allowedHosts: Set<string>;
}

/** The hosts a public URL admits, worked out again only when the URL changes (not per request). */
function allowedHostsFor(): (publicUrl: string) => AllowedHosts {
  let last: (AllowedHosts & { publicUrl: string }) | undefined;
  return (publicUrl) => {
    if (last?.publicUrl === publicUrl) return last;
    const base = new URL(publicUrl);
    const allowedHosts = new Set([base.host]);
    if (LOOPBACK_NAMES.includes(base.hostname)) {
      for (const name of LOOPBACK_NAMES)
        allowedHosts.add(base.port ? `${name}:${base.port}` : name);
    }
    last = { publicUrl, base, allowedHosts };
    return last;
  };
}
