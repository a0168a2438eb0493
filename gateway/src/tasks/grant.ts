import type { Policy, Profile } from '@switchboard/policy';
import type { Pool, Sql } from '../db/connect.ts';
import { SwitchboardError } from '../errors.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import { type BundleInput, SWITCHBOARD_SERVER } from '../runners/bundle.ts';
import { scopeCoversIntegration, scopeFor } from '../tokens/scope.ts';
import type { TokenService } from '../tokens/service.ts';
import { intersectScopes } from './task-scope.ts';

/**
 * The one place a task's tokens are minted (ARCHITECTURE §4 "Per-task tokens"): for the worker
 * that starts an agent, for an external task's grant, and for `POST /tasks/:id/config`. It
 * decides the scope (the task's ∩ its profile's tools, task-scope.ts), the audiences (`/mcp`,
 * `/mcp/<name>` for each integration the scope covers, and the built-in `/mcp/switchboard`),
 * the lifetime (never past the policy's maxTtl), and mints them all in one transaction so an
 * agent never starts with half of its servers.
 */

/**
 * Tokens outlive the agent's timeout by this much: the worker still needs a moment after the
 * timeout to stop the agent (2 s SIGTERM grace) and end the task, and the agent's last call
 * must not fail on an expired token meanwhile. They are revoked when the task ends anyway.
 */
export const TOKEN_MARGIN_MS = 60_000;

/** The built-in task tools: every task may call them on its own task, and nothing else. */
export const SWITCHBOARD_SCOPE = [`${SWITCHBOARD_SERVER}:*`];

export interface GrantDeps {
  sql: Pool;
  tokens: TokenService;
  registry: IntegrationRegistry;
  /** The gateway's public URL (no trailing slash). */
  publicUrl: () => string;
}

export interface GrantRequest {
  taskId: string;
  sessionId: string | null;
  /** The task's stored scope; `[]` means its profile's tools. */
  scope: readonly string[];
  /**
   * The tools of the task's profile: the ceiling of every token. null for an external task,
   * which has no profile: an operator key granted exactly that scope.
   */
  profileTools: readonly string[] | null;
  /** How long the tokens live; cut to the policy's maxTtl. */
  ttlMs: number;
  /** Also mint the token of the built-in /mcp/switchboard server (an agent's bundle needs it). */
  builtin: boolean;
}

export interface TaskGrant {
  /** The scope of the aggregate `/mcp` token. */
  scope: string[];
  mcp: { url: string; token: string };
  /** One per integration the scope covers (not refused), each with its part of the scope. */
  integrations: Array<{ name: string; url: string; token: string; scope: string[] }>;
  switchboard: { url: string; token: string } | null;
  /** jtis, for logs (revocation goes by task). */
  tokenIds: string[];
  ttlMs: number;
  expiresAt: Date;
}

export function requirePolicy(registry: IntegrationRegistry): Policy {
  const policy = registry.currentPolicy();
  if (policy) return policy;
  throw new SwitchboardError(
    'policy_invalid',
    'the policy file is invalid: no token can be minted',
  );
}

/** How long the agent may run: the task's timeout, else the profile's, else the policy's default TTL. */
export function taskTimeoutMs(
  task: { timeoutMs: number | null },
  profile: Profile,
  policy: Policy,
): number {
  const wanted = task.timeoutMs ?? profile.timeoutMs ?? policy.tokens.defaultTtlMs;
  // A token may not outlive maxTtl, so neither may the agent that holds it.
  return Math.max(1_000, Math.min(wanted, policy.tokens.maxTtlMs - TOKEN_MARGIN_MS));
}

/**
 * When a running task's time is up, which is when the tokens it started with expire: for a
 * queued task its start (the claim) + its timeout + TOKEN_MARGIN_MS, for an external one its
 * grant + the TTL it was granted (`timeoutMs`; the default TTL for one granted before that was
 * stored). Never more than maxTtl after the start.
 */
export function taskDeadline(
  task: { startedAt: Date | null; timeoutMs: number | null; external: boolean },
  profile: Profile | null,
  policy: Policy,
): Date {
  const started = (task.startedAt ?? new Date()).getTime();
  const lifeMs =
    task.external || profile === null
      ? (task.timeoutMs ?? policy.tokens.defaultTtlMs)
      : taskTimeoutMs(task, profile, policy) + TOKEN_MARGIN_MS;
  return new Date(started + Math.min(lifeMs, policy.tokens.maxTtlMs));
}

/**
 * Mints the task's tokens in `tx` (the caller's transaction, e.g. the one that creates an
 * external task) or in a transaction of its own.
 */
export async function grantTask(
  deps: GrantDeps,
  request: GrantRequest,
  tx?: Sql,
): Promise<TaskGrant> {
  const policy = requirePolicy(deps.registry);
  const ttlMs = Math.min(request.ttlMs, policy.tokens.maxTtlMs);
  const granted =
    request.profileTools === null
      ? [...request.scope]
      : intersectScopes(request.scope, request.profileTools);
  // The built-in server has its own token (SWITCHBOARD_SCOPE); `switchboard:` patterns of a
  // profile name it, not an integration (a manifest may not be called switchboard).
  const scope = granted.filter((p) => !p.startsWith(`${SWITCHBOARD_SERVER}:`));
  const base = deps.publicUrl();
  const names = deps.registry
    .list()
    .filter(
      (i) =>
        i.name !== SWITCHBOARD_SERVER &&
        i.state !== 'refused' &&
        scopeCoversIntegration(scope, i.name),
    )
    .map((i) => i.name);
  const mintAll = async (sql: Sql): Promise<TaskGrant> => {
    const tokenIds: string[] = [];
    const mint = async (audience: string, s: string[]) => {
      const minted = await deps.tokens.mint(
        { taskId: request.taskId, sessionId: request.sessionId, scope: s, audience, ttlMs },
        sql,
      );
      tokenIds.push(minted.jti);
      return minted;
    };
    const aggregate = await mint(`${base}/mcp`, scope);
    const integrations = [];
    for (const name of names) {
      const url = `${base}/mcp/${name}`;
      const part = scopeFor(scope, name);
      integrations.push({ name, url, scope: part, token: (await mint(url, part)).token });
    }
    let switchboard: TaskGrant['switchboard'] = null;
    if (request.builtin) {
      const url = `${base}/mcp/${SWITCHBOARD_SERVER}`;
      switchboard = { url, token: (await mint(url, SWITCHBOARD_SCOPE)).token };
    }
    return {
      scope,
      mcp: { url: `${base}/mcp`, token: aggregate.token },
      integrations,
      switchboard,
      tokenIds,
      ttlMs,
      expiresAt: aggregate.expiresAt,
    };
  };
  return tx ? mintAll(tx) : deps.sql.begin(mintAll);
}

/** The injection bundle's input from a grant made with `builtin: true`. */
export function bundleInput(
  grant: TaskGrant,
  task: { id: string; sessionId: string | null },
  publicUrl: string,
): BundleInput {
  if (!grant.switchboard) {
    throw new Error('a bundle needs the built-in switchboard token: grant with builtin: true');
  }
  return {
    publicUrl,
    taskId: task.id,
    sessionId: task.sessionId,
    token: grant.mcp.token,
    integrations: grant.integrations.map(({ name, url, token }) => ({ name, url, token })),
    switchboardServer: grant.switchboard,
  };
}
