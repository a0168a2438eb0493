/**
 * A worker's claim loop: `kick()` runs one pass now, or exactly one more right after the pass
 * in progress, however many kicks arrive meanwhile (a bus notice per committed event, a poll
 * timer, a finished job). A failing pass is reported and left to the next kick or poll.
 */
export class CoalescedRun {
  private running = false;
  private again = false;
  private stopped = false;

  constructor(
    private readonly pass: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.pass()
      .catch(this.onError)
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** No pass starts after this (one in progress finishes). */
  stop(): void {
    this.stopped = true;
  }
}
