import type { RequestOptions } from '@modelcontextprotocol/client';
import type { Progress } from '@modelcontextprotocol/server';
import type { Logger } from '../log.ts';
import { deadlineExceeded } from './errors.ts';
import { ProgressGate } from './progress-gate.ts';

/**
 * The bounds of one upstream tools/call (issue 13):
 * - a total deadline (policy `integrations.<name>.maxCallDuration`, 10 min by default): progress
 *   restarts the manifest's per-request timeout, so without it a server reporting progress
 *   every 200 ms held a call (and its agent) for ever;
 * - progress passed on to the agent at most 10 a second after a burst of 10, the latest kept
 *   and the rest dropped (progress-gate.ts; 50,000 notifications of one call were forwarded);
 * - progress asked of the upstream only when the agent asked for it: the SDK adds a progress
 *   token to any request given `onprogress`, which invited every server to stream progress
 *   nobody reads.
 */

/** 10 min: longer than any interactive tool call, short enough that a stuck one frees its agent. */
export const DEFAULT_MAX_CALL_MS = 10 * 60_000;

/**
 * The longest delay a Node timer keeps (2^31 - 1 ms, ~24.8 days): a longer one fires after
 * 1 ms (so did AbortSignal.timeout's), which made a policy maxCallDuration of 597h or more
 * fail every call at once with "ran past its deadline". Longer deadlines wait this long.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface CallBoundsOptions {
  integration: string;
  /** The agent's request signal (its cancellation). */
  signal: AbortSignal;
  /** The agent's progress token; none: the upstream is not asked for progress. */
  progressToken: string | number | undefined;
  /** Sends one progress notification to the agent. */
  notify: (progress: Progress & { progressToken: string | number }) => Promise<void>;
  /** The total deadline of the call (the policy's maxCallDuration). */
  maxCallMs: number;
  log: Logger;
}

export interface CallBounds {
  /** Options for client.callTool besides the call's own (`timeout` is the manifest's, capped). */
  options(timeoutMs: number): RequestOptions;
  /** The deadline's error in place of the SDK's abort, else `error` unchanged. */
  failure(error: unknown): unknown;
  /** The call ended: no more progress goes out; drops are logged. */
  finish(): void;
}

export function callBounds(o: CallBoundsOptions): CallBounds {
  // One controller, aborted by the agent's signal or by the deadline's timer, rather than
  // AbortSignal.any([signal, AbortSignal.timeout(max)]): two signals fewer per call, no
  // WeakRef bookkeeping for `any`, and the timer is cleared when the call ends instead of
  // living on for maxCallMs (10 min) after it. The bench profile put the two at ~20 µs a call.
  const controller = new AbortController();
  const signal = controller.signal;
  let timedOut = false;
  const follow = () => controller.abort(o.signal.reason);
  if (o.signal.aborted) follow();
  else o.signal.addEventListener('abort', follow, { once: true });
  const deadline = setTimeout(
    () => {
      timedOut = true;
      // The reason AbortSignal.timeout gives.
      controller.abort(
        new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
      );
    },
    Math.min(o.maxCallMs, MAX_TIMER_MS),
  );
  deadline.unref();
  const { progressToken } = o;
  const gate =
    progressToken === undefined
      ? undefined
      : new ProgressGate<Progress>(
          (progress) => {
            o.notify({ ...progress, progressToken }).catch(() => {});
          },
          (error) => o.log.debug({ integration: o.integration, err: error }, 'progress not sent'),
        );
  return {
    options(timeoutMs) {
      const timeout = Math.min(timeoutMs, o.maxCallMs);
      if (!gate) return { signal, timeout };
      return {
        signal,
        timeout,
        // A tool that reports progress may run past the manifest's timeout; not past the deadline.
        resetTimeoutOnProgress: true,
        onprogress: (progress) => gate.offer(progress),
      };
    },
    failure(error) {
      return timedOut && !o.signal.aborted
        ? deadlineExceeded(o.integration, o.maxCallMs, error)
        : error;
    },
    finish() {
      clearTimeout(deadline);
      o.signal.removeEventListener('abort', follow);
      gate?.close();
      if (gate && gate.dropped > 0) {
        o.log.debug(
          { integration: o.integration, progress: gate.offered, dropped: gate.dropped },
          'progress notifications dropped (over the per-call rate)',
        );
      }
    },
  };
}
