import type { Logger } from '../log.ts';
import type { TokenClaims } from '../tokens/claims.ts';

export interface ToolCallEvent {
  claims: TokenClaims;
  integration: string;
  tool: string;
  durationMs: number;
  ok: boolean;
  error?: string;
  /** The client cancelled the call (or left) before it was answered: not a failure of the tool. */
  cancelled?: boolean;
  /**
   * Whether `integration` is one the request could reach and `tool` one of its catalog the
   * token may call. Both names come from the agent; metrics label only known ones (a random
   * name must not become a time series).
   */
  known: { integration: boolean; tool: boolean };
  arguments?: unknown;
  /**
   * When the call began (epoch ms). The sink sets it when the caller did not: its event is
   * written up to 200 ms later, and `switchboard trace` places the call on a time line.
   */
  startedAt?: number;
}

/**
 * Hands an event to the listener after the current call has answered: setImmediate keeps a
 * slow or throwing listener (an audit write, a metric) off the call's critical path.
 */
export function emitToolCall(
  listener: (event: ToolCallEvent) => void,
  event: ToolCallEvent,
  log: Logger,
): void {
  setImmediate(() => {
    try {
      listener(event);
    } catch (error) {
      log.warn({ integration: event.integration, err: error }, 'tool call listener failed');
    }
  });
}
