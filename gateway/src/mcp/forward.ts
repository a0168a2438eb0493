import type { Client } from '@modelcontextprotocol/client';
import { TASK_META_KEY } from '@switchboard/sdk';
import type { Integration } from '../integrations/registry.ts';
import { withUpstreamToken } from '../integrations/upstream/http.ts';
import type { TokenClaims } from '../tokens/claims.ts';
import type { Catalog } from './catalog.ts';
import { notReady, upstreamFailure } from './errors.ts';
import { type AgentInput, type RetryMaterial, upstreamInput } from './input-required.ts';

/** The `_meta` key under which stdio upstreams receive the task a request belongs to (sdk's). */
export { TASK_META_KEY };

export interface ForwardDeps {
  catalog: Catalog;
  upstreamToken(integration: string, claims: TokenClaims, tools: string[]): Promise<string>;
}

/** What an upstream request is sent with besides its own parameters. */
export interface Forwarding {
  client: Client;
  timeoutMs: number;
  /** `_meta` to merge into the upstream request (task context, the agent's capabilities). */
  meta: Record<string, unknown>;
  /** Multi-round-trip material to spread into the upstream request's params (SEP-2322). */
  retry: RetryMaterial;
}

export interface ForwardOptions {
  /** What the agent can answer (client input, logs). */
  input?: AgentInput | undefined;
  /** The agent request's signal, also given to the upstream request by `fn`. */
  signal?: AbortSignal | undefined;
}

/**
 * Sends one agent request to an integration, on the instance its session or task maps to
 * (manifest `instances`). Who the request is for travels as the design says (ARCHITECTURE §4
 * "Per-task tokens"): an HTTP upstream gets a short-lived token minted for this integration,
 * task and these tools in its Authorization header, never the agent's; a stdio upstream gets
 * `_meta["io.switchboard/task"]`. Every failure becomes a JSON-RPC error naming the integration.
 */
export async function forward<T>(
  deps: ForwardDeps,
  item: Integration,
  claims: TokenClaims,
  tools: string[],
  fn: (forwarding: Forwarding) => Promise<T>,
  options: ForwardOptions = {},
): Promise<T> {
  const { input, signal } = options;
  const upstream = item.upstream;
  if (!upstream) throw notReady(item.name, item.state);
  const http = item.manifest?.server.transport === 'http';
  const task: Record<string, unknown> = http ? {} : { [TASK_META_KEY]: taskContext(claims) };
  const run = () =>
    upstream.request(
      async (client, timeoutMs, instance) => {
        // The instance actually used decides, not the manifest: one of this task or session
        // carries only this agent's traffic; the gateway's own (shared) one everybody's.
        const ownsConnection = instance.owned;
        deps.catalog.hook(client, item.name);
        const { meta, retry } = upstreamInput(client, input, ownsConnection);
        const sendLog = ownsConnection ? input?.sendLog : undefined;
        const unfollow = sendLog ? deps.catalog.followLogs(client, sendLog) : undefined;
        try {
          return await fn({ client, timeoutMs, meta: { ...meta, ...task }, retry });
        } finally {
          unfollow?.();
        }
      },
      { sessionId: claims.sessionId ?? undefined, taskId: claims.taskId },
    );
  try {
    if (!http) return await run();
    const token = await deps.upstreamToken(item.name, claims, tools);
    return await withUpstreamToken(token, run);
  } catch (error) {
    throw upstreamFailure(item.name, error, signal);
  }
}

/** Task and session only: the token id is a credential reference and stays in the gateway. */
function taskContext(claims: TokenClaims): Record<string, string> {
  return claims.sessionId === null
    ? { taskId: claims.taskId }
    : { taskId: claims.taskId, sessionId: claims.sessionId };
}

/** Ours, and the protocol's per-request envelope (the upstream connection has its own). */
const RESERVED_PREFIXES = ['io.switchboard/', 'io.modelcontextprotocol/'];

/**
 * The agent's `_meta` as it may reach an upstream: its progress token is replaced by the
 * gateway's own (the upstream client assigns one), and no `io.switchboard/*` key survives, so an
 * agent cannot claim another task's context.
 */
export function agentMeta(meta: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!meta) return out;
  for (const [key, value] of Object.entries(meta)) {
    if (key === 'progressToken' || RESERVED_PREFIXES.some((p) => key.startsWith(p))) continue;
    out[key] = value;
  }
  return out;
}
