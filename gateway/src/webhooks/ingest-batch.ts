import type { Pool } from '../db/connect.ts';
import { insertDeliveries, insertDelivery, type NewDelivery } from './store.ts';

/**
 * The ingest path's group commit: async deliveries that arrive while earlier inserts are in
 * flight are stored together, one multi-row INSERT (one statement, one commit) for all of them,
 * and each is answered once that statement has committed. At 16 concurrent senders the gateway's
 * event loop is the bottleneck (86 % busy) and each statement costs it a socket write of ~50 µs
 * (test/bench/RESULTS.md). Without load nothing waits: an insert starts at once while fewer
 * than MAX_IN_FLIGHT are running.
 */

/** Statements at once: while they run, new deliveries queue for the next one. */
const MAX_IN_FLIGHT = 4;
/** Rows per statement at most (16 senders rarely queue more than 16). */
const MAX_BATCH = 64;

type NewAsyncDelivery = Pick<
  NewDelivery,
  'integration' | 'endpoint' | 'deliveryId' | 'headers' | 'body'
>;

interface Waiting {
  delivery: NewAsyncDelivery;
  resolve: (id: string | undefined) => void;
  reject: (error: unknown) => void;
}

export class DeliveryInserter {
  private readonly queue: Waiting[] = [];
  private inFlight = 0;

  constructor(private readonly sql: Pool) {}

  /** The new row's id, or undefined when (integration, deliveryId) is already stored. */
  insert(delivery: NewAsyncDelivery): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ delivery, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < MAX_IN_FLIGHT && this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      this.inFlight += 1;
      void this.run(batch).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  private async run(batch: Waiting[]): Promise<void> {
    if (batch.length > 1) {
      let ids: Map<string, string>;
      try {
        ids = await insertDeliveries(
          this.sql,
          batch.map((w) => w.delivery),
        );
      } catch {
        // One row can fail a statement (a header PostgreSQL's jsonb refuses): each alone then,
        // so it fails only its own request.
        return this.oneByOne(batch);
      }
      for (const w of batch) {
        const key = `${w.delivery.integration}\n${w.delivery.deliveryId}`;
        // The first of a delivery id repeated within the batch gets the row; the rest are
        // duplicates, as they would be one after the other.
        w.resolve(ids.get(key));
        ids.delete(key);
      }
      return;
    }
    await this.oneByOne(batch);
  }

  private async oneByOne(batch: Waiting[]): Promise<void> {
    for (const w of batch) {
      await insertDelivery(this.sql, w.delivery).then(w.resolve, w.reject);
    }
  }
}
