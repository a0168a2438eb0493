/**
 * Restart delays for a crashing server, as PM2's exponential backoff: 100 ms, then × 1.5 per
 * consecutive crash, capped at 15 s; a run that stayed up 30 s resets the count.
 */
export interface BackoffPolicy {
  initialMs: number;
  factor: number;
  maxMs: number;
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  initialMs: 100,
  factor: 1.5,
  maxMs: 15_000,
  resetAfterMs: 30_000,
};

export function restartDelay(policy: BackoffPolicy, consecutiveCrashes: number): number {
  const n = Math.max(0, consecutiveCrashes - 1);
  return Math.min(policy.maxMs, Math.round(policy.initialMs * policy.factor ** n));
}
