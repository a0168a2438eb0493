import type { Pool } from '../db/connect.ts';
import { insertDeliveries, insertDelivery, type NewDelivery } from '../deliveries/store.ts';
import { GroupCommit } from '../group-commit.ts';

/**
 * The ingest path's group commit: async deliveries that arrive while earlier inserts are in
 * flight are stored by one multi-row INSERT, and each request is answered once it committed.
 * At 16 concurrent senders the gateway's event loop is the bottleneck (86 % busy) and each
 * statement costs it a ~50 µs socket write (test/bench/HISTORY.md). Without load nothing
 * waits: an insert starts at once while fewer than 4 are running.
 */

export type NewAsyncDelivery = Pick<
  NewDelivery,
  'integration' | 'endpoint' | 'deliveryId' | 'headers' | 'body' | 'bodySha256' | 'traceParent'
>;

export class DeliveryInserter {
  private readonly commits: GroupCommit<NewAsyncDelivery, string | undefined>;

  constructor(sql: Pool) {
    this.commits = new GroupCommit({
      maxInFlight: 4,
      maxBatch: 64, // 16 senders rarely queue more than 16
      // A row can fail the statement (a header PostgreSQL's jsonb refuses): redone alone, it
      // fails only its own request.
      many: async (batch) => {
        const ids = await insertDeliveries(sql, batch);
        return batch.map((d) => {
          const key = `${d.integration}\n${d.deliveryId}`;
          const id = ids.get(key);
          // The first of a delivery id repeated within the batch gets the row; the rest are
          // duplicates, as they would be one after the other.
          ids.delete(key);
          return id;
        });
      },
      one: (d) => insertDelivery(sql, d),
    });
  }

  /** The new row's id, or undefined when its delivery id (or body hash) is already stored. */
  async insert(delivery: NewAsyncDelivery): Promise<string | undefined> {
    return (await this.commits.submit(delivery)).value;
  }
}
