import {
  ProtocolError,
  ProtocolErrorCode,
  SdkError,
  SdkErrorCode,
} from '@modelcontextprotocol/server';
import { SwitchboardError } from '../errors.ts';
import { MAX_ARGUMENT_DEPTH, MAX_RESULT_DEPTH } from './json-depth.ts';

/**
 * JSON-RPC errors the endpoint answers. Failures of an upstream always name the integration
 * (the SwitchboardError messages of the supervisor already do: "integration fixture: the server
 * exited with code 1 during the request"), so an agent of the aggregate knows which one broke.
 */

/** Answered for unknown, hidden and out-of-scope tools alike, in the SDK's own words (McpServer). */
export function toolNotFound(name: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidParams, `Tool ${name} not found`);
}

/** Arguments nested past MAX_ARGUMENT_DEPTH (json-depth.ts): the request's fault, not the upstream's. */
export function argumentsTooDeep(name: string): ProtocolError {
  return new ProtocolError(
    ProtocolErrorCode.InvalidParams,
    `Arguments of tool ${name} nest deeper than ${MAX_ARGUMENT_DEPTH} levels`,
    { code: 'arguments_too_deep' },
  );
}

/** A result nested past MAX_RESULT_DEPTH: it came so from the upstream, so it is the upstream's. */
export function resultTooDeep(integration: string): ProtocolError {
  return new ProtocolError(
    ProtocolErrorCode.InternalError,
    `integration ${integration}: the result nests deeper than ${MAX_RESULT_DEPTH} levels`,
    { code: 'upstream_error', integration },
  );
}

export function promptNotFound(name: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidParams, `Prompt ${name} not found`);
}

export function notReady(integration: string, state: string, detail?: string): ProtocolError {
  const why = detail ? `: ${detail}` : '';
  return new ProtocolError(
    ProtocolErrorCode.InternalError,
    `integration ${integration} is not available (${state})${why}`,
    { code: 'integration_unavailable', integration },
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
    return new ProtocolError(ProtocolErrorCode.InternalError, named, {
      code: error.code,
      integration,
    });
  }
  if (error instanceof SdkError && error.code === SdkErrorCode.RequestTimeout) {
    return new ProtocolError(
      ProtocolErrorCode.InternalError,
      `integration ${integration}: the server did not answer in time`,
      { code: 'upstream_timeout', integration },
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ProtocolError(
    ProtocolErrorCode.InternalError,
    `integration ${integration}: ${message}`,
    {
      code: 'upstream_error',
      integration,
    },
  );
}

/**
 * A call that ran past its total deadline (policy `maxCallDuration`, mcp/call-bounds.ts): the
 * gateway cancelled it upstream. A timeout like any other to the agent, saying which bound.
 */
export function deadlineExceeded(integration: string, ms: number, cause?: unknown): ProtocolError {
  const error = new ProtocolError(
    ProtocolErrorCode.InternalError,
    `integration ${integration}: the call ran past its deadline (${ms / 1000} s, policy maxCallDuration)`,
    { code: 'upstream_timeout', integration },
  );
  if (cause !== undefined) error.cause = cause;
  return error;
}

/** What a cancelled request's failure says (recorded in events and logs; the client is gone). */
export function requestCancelled(integration: string): ProtocolError {
  return new ProtocolError(
    ProtocolErrorCode.InternalError,
    `integration ${integration}: the request was cancelled`,
    { code: 'cancelled', integration },
  );
}
