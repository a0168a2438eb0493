import type { Lifecycle } from '../lifecycle.ts';

/**
 * The API's long-lived answers (SSE), ended when the gateway shuts down: otherwise they would
 * hold the HTTP server open until the shutdown deadline cuts them. gateway.ts builds the app
 * before the Shutdown exists, so a gateway that wires `close` into shutdown.onStart ends them
 * at once; without that, they watch the lifecycle flag that shutdown sets first, every
 * WATCH_MS (250 ms: far inside the 10 s that docker stop allows, and one timer for all streams).
 */
const WATCH_MS = 250;

export class OpenStreams {
  private readonly closers = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly lifecycle?: Lifecycle) {}

  /** Registers a stream; returns the function that unregisters it (call it when it ends). */
  add(close: () => void): () => void {
    if (this.closed || this.lifecycle?.shuttingDown) {
      close();
      return () => {};
    }
    this.closers.add(close);
    if (this.lifecycle && !this.timer) {
      this.timer = setInterval(() => {
        if (this.lifecycle?.shuttingDown) this.close();
      }, WATCH_MS);
      this.timer.unref();
    }
    return () => {
      this.closers.delete(close);
      if (this.closers.size === 0) this.stopWatching();
    };
  }

  get size(): number {
    return this.closers.size;
  }

  /** Ends every stream, now and from now on. */
  close(): void {
    this.closed = true;
    this.stopWatching();
    for (const close of [...this.closers]) close();
    this.closers.clear();
  }

  private stopWatching(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
