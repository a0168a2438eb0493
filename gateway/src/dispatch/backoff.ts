/**
 * How long a failed delivery waits before its next attempt. Attempt n (1-based) waits about
 * SCHEDULE[n-1] after attempt n-1 failed: the first attempt is immediate, then 5 s, 30 s, 2 m,
 * 10 m, 30 m, 1 h, 2 h, 4 h, 8 h — about 16 h from the first failure to the 10th attempt, in the
 * spirit of the Standard Webhooks producer schedule (REFERENCES §E, ~75 h over 10 attempts) but
 * shorter, because a task result that arrives a day late is rarely still wanted.
 */
export const DEFAULT_BACKOFF_MS: readonly number[] = [
  0, 5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000,
];

/** ±20 %: retries of many rows that failed together (a receiver outage) spread out. */
const JITTER = 0.2;

/**
 * The wait before attempt `attempt` (1-based), jittered; past the schedule's end its last entry.
 * A receiver's Retry-After is a floor: max(backoff, retryAfterMs), never jittered below it.
 */
export function retryDelayMs(
  attempt: number,
  options: { schedule?: readonly number[]; retryAfterMs?: number; random?: () => number } = {},
): number {
  const schedule = options.schedule ?? DEFAULT_BACKOFF_MS;
  const base = schedule[Math.min(Math.max(attempt, 1), schedule.length) - 1] ?? 0;
  const random = options.random ?? Math.random;
  const jittered = Math.round(base * (1 - JITTER + 2 * JITTER * random()));
  return Math.max(jittered, options.retryAfterMs ?? 0);
}
