import {
  ProtocolError,
  ProtocolErrorCode,
  SdkError,
  SdkErrorCode,
} from '@modelcontextprotocol/server';
import { ERRORS, type ErrorCode, SwitchboardError } from '../errors.ts';
import { MAX_ARGUMENT_DEPTH, MAX_RESULT_DEPTH } from './json-depth.ts';

/**
 * JSON-RPC errors the endpoint answers. Failures of an upstream always name the integration
 * (the SwitchboardError messages of the supervisor already do: "integration fixture: the server
 * exited with code 1 during the request"), so an agent of the aggregate knows which one broke.
 */

/**
 * A gateway failure as a JSON-RPC error: the number from the code's row in ERRORS, the code
 * itself in `data.code` (first, then the other facts), so agents match on the same string as
 * HTTP clients.
 */
export function protocolError(
  code: ErrorCode,
  message: string,
  data: Record<string, unknown> = {},
): ProtocolError {
  return new ProtocolError(ERRORS[code].jsonRpc, message, { code, ...data });
}

/** Answered for unknown, hidden and out-of-scope tools alike, in the SDK's own words (McpServer). */
export function toolNotFound(name: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidParams, `Tool ${name} not found`);
}

/** Arguments nested past MAX_ARGUMENT_DEPTH (json-depth.ts): the request's fault, not the upstream's. */
export function argumentsTooDeep(name: string): ProtocolError {
  return protocolError(
    'arguments_too_deep',
    `Arguments of tool ${name} nest deeper than ${MAX_ARGUMENT_DEPTH} levels`,
  );
}

/** A result nested past MAX_RESULT_DEPTH: it came so from the upstream, so it is the upstream's. */
export function resultTooDeep(integration: string): ProtocolError {
  return protocolError(
    'upstream_error',
    `integration ${integration}: the result nests deeper than ${MAX_RESULT_DEPTH} levels`,
    { integration },
  );
}

export function promptNotFound(name: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidParams, `Prompt ${name} not found`);
}

export function notReady(integration: string, state: string, detail?: string): ProtocolError {
  const why = detail ? `: ${detail}` : '';
  return protocolError(
    'integration_unavailable',
    `integration ${integration} is not available (${state})${why}`,
    { integration },
  );
}

/**
 * An upstream failure as the error the agent sees. A JSON-RPC error the upstream answered
 * itself (invalid arguments, unknown resource) passes through unchanged: it is the server's
 * answer, not a failure of the route. `signal`: the request's; once it has aborted (the client
 * cancelled or left), the failure is that cancellation, never a timeout, although the SDK client
 * rejects an aborted request with SdkError RequestTimeout carrying the abort reason.
 */
export function upstreamFailure(
  integration: string,
  error: unknown,
  signal?: AbortSignal,
): ProtocolError {
  if (signal?.aborted) return requestCancelled(integration);
  if (error instanceof ProtocolError) return error;
  if (error instanceof SwitchboardError) {
    // The supervisor's messages start with "integration <name>:"; others (a token minter) get it.
    const named = error.message.startsWith(`integration ${integration}`)
      ? error.message
      : `integration ${integration}: ${error.message}`;
    return protocolError(error.code, named, { integration });
  }
  if (error instanceof SdkError && error.code === SdkErrorCode.RequestTimeout) {
    return protocolError(
      'upstream_timeout',
      `integration ${integration}: the server did not answer in time`,
      { integration },
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return protocolError('upstream_error', `integration ${integration}: ${message}`, { integration });
}

/**
 * A call that ran past its total deadline (policy `maxCallDuration`, mcp/call-bounds.ts): the
 * gateway cancelled it upstream. A timeout like any other to the agent, saying which bound.
 */
export function deadlineExceeded(integration: string, ms: number, cause?: unknown): ProtocolError {
  const error = protocolError(
    'upstream_timeout',
    `integration ${integration}: the call ran past its deadline (${ms / 1000} s, policy maxCallDuration)`,
    { integration },
  );
  if (cause !== undefined) error.cause = cause;
  return error;
}

/** What a cancelled request's failure says (recorded in events and logs; the client is gone). */
export function requestCancelled(integration: string): ProtocolError {
  return protocolError('cancelled', `integration ${integration}: the request was cancelled`, {
    integration,
  });
}
