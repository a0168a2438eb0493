/**
 * Token buckets keyed by a string: `perMinute` requests a minute on average, bursts up to the
 * same number. In memory, per process: with N replicas a key may be taken N times the limit in
 * the worst case. The webhook ingress and the console's sign-in use it as is; the MCP routes'
 * per-task limit goes through RequestRateLimits (below), exact across replicas on PostgreSQL.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly maxBuckets = 50_000) {}

  /** Takes one request; returns 0 if allowed, else the seconds until one would be. */
  take(key: string, perMinute: number, now = Date.now()): number {
    const ratePerMs = perMinute / 60_000;
    const bucket = this.buckets.get(key) ?? { tokens: perMinute, at: now };
    bucket.tokens = Math.min(perMinute, bucket.tokens + (now - bucket.at) * ratePerMs);
    bucket.at = now;
    if (bucket.tokens < 1) {
      this.buckets.set(key, bucket);
      return Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerMs / 1000));
    }
    bucket.tokens -= 1;
    if (!this.buckets.has(key) && this.buckets.size >= this.maxBuckets) this.evictFull(now);
    this.buckets.set(key, bucket);
    return 0;
  }

  /** The seconds until `take` would allow one, without taking (0: it would now). */
  wait(key: string, perMinute: number, now = Date.now()): number {
    const bucket = this.buckets.get(key);
    if (!bucket) return 0;
    const ratePerMs = perMinute / 60_000;
    const tokens = Math.min(perMinute, bucket.tokens + (now - bucket.at) * ratePerMs);
    return tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / ratePerMs / 1000));
  }

  /** Drops buckets old enough to have refilled (they carry no state worth keeping). */
  private evictFull(now: number): void {
    for (const [key, b] of this.buckets) {
      if (now - b.at > 60_000) this.buckets.delete(key);
    }
    // Still full of live buckets: drop the oldest rather than grow without bound.
    if (this.buckets.size >= this.maxBuckets) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
  }
}

/**
 * The policy's `rateLimit.requestsPerMinute` per (task, integration), as the MCP routes take it:
 * per task, across every token of the task (one for /mcp, one per /mcp/<name>), so that tokens
 * for more endpoints are not more requests. Two implementations chosen the way the event bus is (db/bus.ts): on the embedded
 * PGlite (one process) the in-memory buckets below are exact and cost no statement; on
 * PostgreSQL the buckets live in the database (db/rate-buckets.ts), so N replicas give a task
 * the same limit as one.
 */
export interface RequestRateLimits {
  /** Takes one request; 0 if allowed, else the seconds until one would be (Retry-After). */
  take(taskId: string, integration: string, perMinute: number): number | Promise<number>;
}

/**
 * The process's own buckets (the one replica of the embedded database). 50,000 pairs at most:
 * past it, buckets that have refilled are dropped first (RateLimiter.evictFull).
 */
export class LocalRateLimits implements RequestRateLimits {
  private readonly buckets = new RateLimiter();

  take(taskId: string, integration: string, perMinute: number): number {
    return this.buckets.take(`${taskId}/${integration}`, perMinute);
  }
}
