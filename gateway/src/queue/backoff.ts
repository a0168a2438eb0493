/**
 * The one backoff of the leased queues (deliveries, tasks, outbox). A retry schedule is data
 * each queue supplies: entry i is the wait after failed attempt i + 1, i.e. before attempt
 * i + 2 (the first attempt never waits). Past the schedule's end its last entry repeats; the
 * row's max_attempts, not the schedule's length, decides when retrying stops.
 */
export type RetrySchedule = readonly number[];

/** ±20 %: retries of many rows that failed together (a receiver outage) spread out. */
const JITTER = 0.2;

/**
 * The wait after failed attempt `attempt` (1-based), jittered. A receiver's Retry-After is a
 * floor: max(backoff, retryAfterMs), never jittered below it. An empty schedule waits 0.
 */
export function retryDelayMs(
  schedule: RetrySchedule,
  attempt: number,
  options: { retryAfterMs?: number | undefined; random?: () => number } = {},
): number {
  const base = schedule[Math.min(Math.max(attempt, 1), schedule.length) - 1] ?? 0;
  const random = options.random ?? Math.random;
  const jittered = Math.round(base * (1 - JITTER + 2 * JITTER * random()));
  return Math.max(jittered, options.retryAfterMs ?? 0);
}
