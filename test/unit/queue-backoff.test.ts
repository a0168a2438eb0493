import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '../../gateway/src/queue/backoff.ts';

// The one backoff of the leased queues (deliveries, tasks, the outbox).
describe('retryDelayMs', () => {
  const schedule = [1_000, 5_000, 30_000];
  const middle = () => 0.5;

  it('waits schedule[attempt - 1] after a failed attempt; past its end the last entry repeats', () => {
    expect([1, 2, 3, 4, 10].map((a) => retryDelayMs(schedule, a, { random: middle }))).toEqual([
      1_000, 5_000, 30_000, 30_000, 30_000,
    ]);
    expect(retryDelayMs(schedule, 0, { random: middle })).toBe(1_000);
    expect(retryDelayMs([], 3, { random: middle })).toBe(0);
  });

  it('jitters ±20 %', () => {
    expect(retryDelayMs(schedule, 2, { random: () => 0 })).toBe(4_000);
    expect(retryDelayMs(schedule, 2, { random: () => 1 })).toBe(6_000);
    for (let i = 0; i < 100; i += 1) {
      const wait = retryDelayMs(schedule, 3);
      expect(wait).toBeGreaterThanOrEqual(24_000);
      expect(wait).toBeLessThanOrEqual(36_000);
    }
  });

  it('never waits less than a Retry-After', () => {
    expect(retryDelayMs(schedule, 1, { retryAfterMs: 60_000, random: () => 0 })).toBe(60_000);
    expect(retryDelayMs(schedule, 3, { retryAfterMs: 1_000, random: middle })).toBe(30_000);
  });
});
