import type { Policy, Profile } from '@switchboard/policy';
import type { Pool } from '../db/connect.ts';
import { SwitchboardError } from '../errors.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import { type BundleInput, SWITCHBOARD_SERVER } from '../runners/bundle.ts';
import { scopeCoversIntegration, scopeFor } from '../tokens/scope.ts';
import type { TokenService } from '../tokens/service.ts';
import type { QueueTaskRow } from './store.ts';

/**
 * The tokens of a queued task that a worker has just claimed (ARCHITECTURE §4 "Per-task
 * tokens", "Injection bundle"): one for the aggregate `/mcp`, one per granted integration
 * (`/mcp/<name>`) and one for the built-in `/mcp/switchboard`, minted in one transaction so an
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

function split(pattern: string): [string, string] {
  const at = pattern.indexOf(':');
  return [pattern.slice(0, at), pattern.slice(at + 1)];
}

const meet = (a: string, b: string): string | undefined =>
  a === '*' ? b : b === '*' || a === b ? a : undefined;

/**
 * The patterns allowed by both lists: `github:*` ∩ `*:get_pr` = `github:get_pr`. A task that
 * names no scope gets the profile's tools (the profile is the operator's ceiling, a task's scope
 * only narrows it).
 */
export function intersectScopes(task: readonly string[], profile: readonly string[]): string[] {
  if (task.length === 0) return [...new Set(profile)];
  const out = new Set<string>();
  for (const a of task) {
    const [ai, at] = split(a);
    for (const b of profile) {
      const [bi, bt] = split(b);
      const i = meet(ai, bi);
      const t = meet(at, bt);
      if (i !== undefined && t !== undefined) out.add(`${i}:${t}`);
    }
  }
  return [...out];
}

/** How long the agent may run: the task's timeout, else the profile's, else the policy's default TTL. */
export function taskTimeoutMs(
  task: Pick<QueueTaskRow, 'timeoutMs'>,
  profile: Profile,
  policy: Policy,
): number {
  const wanted = task.timeoutMs ?? profile.timeoutMs ?? policy.tokens.defaultTtlMs;
  // A token may not outlive maxTtl, so neither may the agent that holds it.
  return Math.max(1_000, Math.min(wanted, policy.tokens.maxTtlMs - TOKEN_MARGIN_MS));
}

export interface TaskTokenDeps {
  sql: Pool;
  tokens: TokenService;
  registry: IntegrationRegistry;
  /** The gateway's public URL (no trailing slash). */
  publicUrl: () => string;
}

export interface TaskTokens {
  bundle: BundleInput;
  /** The scope of the aggregate token: the task's scope ∩ the profile's tools. */
  scope: string[];
  /** jtis, for logs (revocation goes by task). */
  tokenIds: string[];
  expiresAt: Date;
}

/**
 * Mints the task's tokens with ttl = min(timeout + TOKEN_MARGIN_MS, maxTtl). Integrations are
 * those not refused that the scope covers; one named `switchboard` (the manifest name pattern
 * admits it) is skipped, as the built-in server owns that name and /mcp/switchboard.
 */
export async function mintTaskTokens(
  deps: TaskTokenDeps,
  task: QueueTaskRow,
  profile: Profile,
  timeoutMs: number,
): Promise<TaskTokens> {
  const policy = deps.registry.currentPolicy();
  if (!policy) {
    throw new SwitchboardError(
      'policy_invalid',
      'the policy file is invalid: no token can be minted',
      {
        status: 503,
      },
    );
  }
  const ttlMs = Math.min(timeoutMs + TOKEN_MARGIN_MS, policy.tokens.maxTtlMs);
  const scope = intersectScopes(task.scope, profile.tools).filter(
    (p) => split(p)[0] !== SWITCHBOARD_SERVER,
  );
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
  return deps.sql.begin(async (tx) => {
    const tokenIds: string[] = [];
    const mint = async (audience: string, s: string[]) => {
      const minted = await deps.tokens.mint(
        { taskId: task.id, sessionId: task.sessionId, scope: s, audience, ttlMs },
        tx,
      );
      tokenIds.push(minted.jti);
      return minted;
    };
    const aggregate = await mint(`${base}/mcp`, scope);
    const integrations = [];
    for (const name of names) {
      const url = `${base}/mcp/${name}`;
      integrations.push({ name, url, token: (await mint(url, scopeFor(scope, name))).token });
    }
    const builtinUrl = `${base}/mcp/${SWITCHBOARD_SERVER}`;
    const builtin = await mint(builtinUrl, SWITCHBOARD_SCOPE);
    return {
      bundle: {
        publicUrl: base,
        taskId: task.id,
        sessionId: task.sessionId,
        token: aggregate.token,
        integrations,
        switchboardServer: { url: builtinUrl, token: builtin.token },
      },
      scope,
      tokenIds,
      expiresAt: aggregate.expiresAt,
    };
  });
}
