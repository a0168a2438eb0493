/**
 * Progress of one call on its way to the agent: a token bucket of PROGRESS_BURST notifications,
 * refilled at PROGRESS_PER_S a second. A server's honest handful (5 steps sent back to back)
 * passes untouched; past that, the latest notification of each interval is sent and the rest
 * are dropped and counted (50,000 notifications of one call were once all forwarded). Order is
 * kept: a notification never overtakes an earlier one.
 */

/** Notifications a second passed on per call once the burst is spent: a progress bar needs no more. */
export const PROGRESS_PER_S = 10;
/** Sent at once before the rate applies: the short sequences of ordinary tools. */
export const PROGRESS_BURST = 10;

const INTERVAL_MS = 1_000 / PROGRESS_PER_S;

export class ProgressGate<T> {
  private tokens = PROGRESS_BURST;
  private refilled = Date.now();
  private pending: T | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  offered = 0;
  sent = 0;

  constructor(
    private readonly send: (progress: T) => void,
    private readonly onError: (error: unknown) => void,
  ) {}

  offer(progress: T): void {
    if (this.closed) return;
    this.offered += 1;
    this.refill();
    if (this.pending === undefined && this.tokens >= 1) {
      this.emit(progress);
      return;
    }
    // Replaces an older pending one: that is a drop.
    this.pending = progress;
    this.timer ??= setTimeout(() => this.flush(), Math.ceil((1 - this.tokens) * INTERVAL_MS));
    this.timer.unref();
  }

  /** The call ended: nothing more is sent (a pending notification is dropped). */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
  }

  get dropped(): number {
    return this.offered - this.sent;
  }

  private flush(): void {
    this.timer = undefined;
    const pending = this.pending;
    this.pending = undefined;
    if (pending === undefined || this.closed) return;
    this.refill();
    this.emit(pending);
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(PROGRESS_BURST, this.tokens + (now - this.refilled) / INTERVAL_MS);
    this.refilled = now;
  }

  private emit(progress: T): void {
    this.tokens -= 1;
    this.sent += 1;
    try {
      this.send(progress);
    } catch (error) {
      this.onError(error);
    }
  }
}
