import type { Client } from '@modelcontextprotocol/client';
import {
  CLIENT_CAPABILITIES_META_KEY,
  type ClientCapabilities,
  LOG_LEVEL_META_KEY,
  type LoggingLevel,
  type LoggingMessageNotificationParams,
  type Server,
  type ServerContext,
} from '@modelcontextprotocol/server';

/**
 * Client input (elicitation, sampling, roots) through the gateway, both eras (SEP-2322).
 *
 * The gateway's upstream connections speak 2026-07-28 where the server does
 * (integrations/upstream/client.ts), where a server asks for input by ANSWERING the call with
 * `resultType: "input_required"`; the client answers by calling again with `inputResponses` and
 * the server's `requestState` echoed byte for byte. The gateway is a pass-through in both
 * directions: the upstream's input_required result is returned to the agent unchanged (the
 * SDK's server seam checks it against the capabilities the agent declared: -32021 otherwise),
 * and the agent's retry material is sent upstream unchanged (the upstream, not the gateway,
 * owns and verifies its state). A 2025-era agent gets the same input as real server→client
 * requests from the SDK's legacy shim, whose replies mcp/client-replies.ts routes back.
 *
 * What the upstream may ask for is what the calling agent can answer: its declared capabilities
 * go upstream in the request's envelope (the upstream client declares none of its own).
 */

/** What an agent's request brings for the upstream's input requests. */
export interface AgentInput {
  /** Declared by the agent: the 2026-07-28 envelope, or its 2025 handshake remembered per token. */
  capabilities: ClientCapabilities | undefined;
  /** The answers of a retried request (SEP-2322), untrusted: the upstream validates them. */
  inputResponses?: Record<string, unknown>;
  /** The upstream's own state, echoed by the agent byte for byte. */
  requestState?: string;
  /** The lowest log level the agent asked for (2026 envelope, or 2025 logging/setLevel). */
  logLevel?: LoggingLevel;
  /** Passes one upstream log message on to the agent, on this request's stream. */
  sendLog?: (params: LoggingMessageNotificationParams) => void;
}

export interface RetryMaterial {
  inputResponses?: Record<string, unknown>;
  requestState?: string;
}

/** What this request of the agent brings (see AgentInput). `logLevel`: set by logging/setLevel. */
export function agentInput(
  server: Server,
  ctx: ServerContext,
  logLevel: LoggingLevel | undefined,
): AgentInput {
  const input: AgentInput = { capabilities: server.getClientCapabilities() };
  const level =
    (ctx.mcpReq.envelope as Record<string, unknown> | undefined)?.[LOG_LEVEL_META_KEY] ?? logLevel;
  if (typeof level === 'string' && LOG_LEVELS.includes(level as LoggingLevel)) {
    const wanted = level as LoggingLevel;
    input.logLevel = wanted;
    input.sendLog = (params) => {
      if (!atLeast(params.level, wanted)) return;
      ctx.mcpReq.notify({ method: 'notifications/message', params }).catch(() => {});
    };
  }
  const responses = ctx.mcpReq.inputResponses;
  if (responses !== undefined && Object.keys(responses).length > 0)
    input.inputResponses = responses;
  const state = ctx.mcpReq.requestState<unknown>();
  if (typeof state === 'string') input.requestState = state;
  return input;
}

/** Whether the upstream connection speaks 2026-07-28 (a 2025 server knows no input_required). */
export function isModern(client: Client): boolean {
  return client.getProtocolEra() === 'modern';
}

/**
 * What goes upstream with the request for a modern upstream: the envelope key with the agent's
 * input capabilities, and the retry material at the top of the params. Nothing for a 2025-era
 * upstream, which neither asks that way nor reads those keys.
 */
export function upstreamInput(
  client: Client,
  input: AgentInput | undefined,
  ownsConnection: boolean,
): { meta: Record<string, unknown>; retry: RetryMaterial } {
  if (!isModern(client)) return { meta: {}, retry: {} };
  const meta: Record<string, unknown> = {
    [CLIENT_CAPABILITIES_META_KEY]: inputCapabilities(input?.capabilities ?? {}),
  };
  // Logs name no request: asked for only where they can only be this agent's (catalog.followLogs).
  if (ownsConnection && input?.logLevel !== undefined) meta[LOG_LEVEL_META_KEY] = input.logLevel;
  const retry: RetryMaterial = {};
  if (input?.inputResponses !== undefined) retry.inputResponses = input.inputResponses;
  if (input?.requestState !== undefined) retry.requestState = input.requestState;
  return { meta, retry };
}

/** The capabilities an upstream can use: input kinds only (tasks, extensions stay with us). */
export function inputCapabilities(declared: ClientCapabilities): ClientCapabilities {
  const out: ClientCapabilities = {};
  if (declared.elicitation !== undefined) out.elicitation = declared.elicitation;
  if (declared.sampling !== undefined) out.sampling = declared.sampling;
  if (declared.roots !== undefined) out.roots = declared.roots;
  return out;
}

/** Whether a client declared a capability that lets a server ask it for input. */
export function acceptsInput(capabilities: ClientCapabilities | undefined): boolean {
  return (
    capabilities !== undefined &&
    (capabilities.elicitation !== undefined ||
      capabilities.sampling !== undefined ||
      capabilities.roots !== undefined)
  );
}

/** RFC 5424 severities, least severe first (the spec's logging levels). */
export const LOG_LEVELS: readonly LoggingLevel[] = [
  'debug',
  'info',
  'notice',
  'warning',
  'error',
  'critical',
  'alert',
  'emergency',
];

function atLeast(level: LoggingLevel, wanted: LoggingLevel): boolean {
  return LOG_LEVELS.indexOf(level) >= LOG_LEVELS.indexOf(wanted);
}
