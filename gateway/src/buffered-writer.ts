/**
 * Rows written off the caller's path: `push` never waits and never throws; rows are written in
 * batches at most `flushMs` later (a crash loses at most that much), one batch at a time. Past
 * `maxPending` (the database is down or slower than the producer), new rows are dropped and
 * counted, never queued: a hostile producer cannot grow the process's memory through it. Used by
 * the tool-call events (tasks/tool-events.ts) and the egress log (egress/audit.ts).
 */
export interface BufferedWriterOptions<T> {
  /** Writes one batch; a throw drops that batch (reported through onDropped with the error). */
  write: (batch: T[]) => Promise<void>;
  /** Told of rows that were not written: over maxPending (no error) or in a failed batch. */
  onDropped: (count: number, error?: unknown) => void;
  /** 200 ms: a crash loses at most this much. */
  flushMs?: number;
  /** 200 rows per statement (≈ 50 µs of database time each, amortised). */
  batch?: number;
  /** 10,000 rows: a minute of a busy gateway's backlog, a few MB. */
  maxPending?: number;
}

export class BufferedWriter<T> {
  private pending: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly flushMs: number;
  private readonly batch: number;
  private readonly maxPending: number;

  constructor(private readonly options: BufferedWriterOptions<T>) {
    this.flushMs = options.flushMs ?? 200;
    this.batch = options.batch ?? 200;
    this.maxPending = options.maxPending ?? 10_000;
    if (this.batch < 1 || this.maxPending < 1 || this.flushMs < 0) {
      throw new RangeError('BufferedWriter: batch and maxPending ≥ 1, flushMs ≥ 0');
    }
  }

  /** Queues one row; false (and counted as dropped) when the backlog is full. */
  push(row: T): boolean {
    if (this.pending.length >= this.maxPending) {
      this.report(1);
      return false;
    }
    this.pending.push(row);
    this.flushSoon(this.pending.length >= this.batch ? 0 : this.flushMs);
    return true;
  }

  /** Rows queued and not yet handed to `write`. */
  get backlog(): number {
    return this.pending.length;
  }

  /** Writes what is queued (on shutdown, and in tests before reading the rows). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(() => this.writeAll());
    await this.flushing;
  }

  private flushSoon(ms: number): void {
    if (this.timer && ms > 0) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), ms);
    this.timer.unref();
  }

  private report(count: number, error?: unknown): void {
    try {
      this.options.onDropped(count, error);
    } catch {
      // A reporter that throws must not stop the writer; there is nobody left to tell.
    }
  }

  private async writeAll(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.batch);
      try {
        await this.options.write(batch);
      } catch (error) {
        this.report(batch.length, error);
      }
    }
  }
}
