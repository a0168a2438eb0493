/**
 * At most one call of `fire` per `intervalMs`, leading and trailing edge: the first `kick()`
 * fires at once, kicks during the following interval are folded into one call at its end (so
 * the last change is never lost), however many arrive. What CoalescedRun is for async passes,
 * this is for time: 20,000 `list_changed` from one upstream in a second become two.
 * A throw in `fire` is reported, never thrown into the kicker (an upstream's notification).
 */
export class Throttle {
  private last = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Kicks folded into a later call since the last one fired (what the throttle saved). */
  folded = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly fire: () => void,
    private readonly onError: (error: unknown) => void,
  ) {}

  kick(): void {
    if (this.stopped) return;
    if (this.timer) {
      this.folded += 1;
      return;
    }
    const wait = this.last + this.intervalMs - Date.now();
    if (wait <= 0) {
      this.run();
      return;
    }
    this.folded += 1;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.run();
    }, wait);
    this.timer.unref();
  }

  /** No call after this (a pending trailing call is dropped). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private run(): void {
    if (this.stopped) return;
    this.last = Date.now();
    try {
      this.fire();
    } catch (error) {
      this.onError(error);
    }
  }
}
