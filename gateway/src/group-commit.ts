/**
 * Group commit: work items submitted while earlier statements are in flight are done together
 * by the next one, and each caller is answered with its own result once that statement (or
 * transaction) has committed. A batch that fails is done again item by item, so one bad item
 * fails only its own caller and a result never depends on its neighbours. Used by the webhook
 * ingest (one INSERT for the deliveries that arrived together) and the delivery worker (one
 * transaction for the handler results that finished together); at 16 concurrent senders each
 * statement saved is a ~50 µs socket write of the gateway's (test/bench/HISTORY.md).
 */

export interface GroupCommitOptions<I, O> {
  /** The whole batch at once; its results in the batch's order. Throws → item by item. */
  many: (items: I[]) => Promise<O[]>;
  /** One item alone (a batch of one, or each item of a batch that failed). */
  one: (item: I) => Promise<O>;
  /** Batches in flight at once; while they run, new items queue for the next. */
  maxInFlight: number;
  maxBatch: number;
  /**
   * Start a batch after the current I/O phase rather than at once: the answers read in one
   * chunk from a stdio server then go together instead of the first going alone.
   */
  afterIo?: boolean;
  /** Told when a batch failed and is redone item by item (expected errors excepted by it). */
  onBatchError?: (error: unknown, size: number) => void;
}

/** An item's result, and how many items its statement did (1: alone, or item by item). */
export interface Committed<O> {
  value: O;
  batch: number;
}

interface Waiting<I, O> {
  item: I;
  resolve: (done: Committed<O>) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit<I, O> {
  private readonly queue: Waiting<I, O>[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(private readonly options: GroupCommitOptions<I, O>) {
    if (options.maxInFlight < 1 || options.maxBatch < 1) {
      throw new RangeError('GroupCommit: maxInFlight and maxBatch must be at least 1');
    }
  }

  submit(item: I): Promise<Committed<O>> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.options.afterIo) this.pump();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight += 1;
      void this.run(batch).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  private async run(batch: Waiting<I, O>[]): Promise<void> {
    if (batch.length > 1) {
      let values: O[];
      try {
        values = await this.options.many(batch.map((w) => w.item));
      } catch (error) {
        this.options.onBatchError?.(error, batch.length);
        return this.oneByOne(batch);
      }
      for (const [i, w] of batch.entries()) w.resolve({ value: values[i]!, batch: batch.length });
      return;
    }
    await this.oneByOne(batch);
  }

  private async oneByOne(batch: Waiting<I, O>[]): Promise<void> {
    for (const w of batch) {
      await this.options.one(w.item).then((value) => w.resolve({ value, batch: 1 }), w.reject);
    }
  }
}
