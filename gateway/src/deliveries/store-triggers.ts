import type { Policy } from '@switchboard/policy';
import type { Trigger } from '@switchboard/sdk';
import type { Pool } from '../db/connect.ts';
import { SwitchboardError } from '../errors.ts';
import type { TaskEvent } from '../events/store.ts';
import type { PublishTaskEvents } from '../events/task-events.ts';
import { GroupCommit } from '../group-commit.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import type { Logger } from '../log.ts';
import { finishDeliveries, type LeasedDelivery } from './store.ts';
import {
  applyTriggerBatch,
  type PlannedTriggers,
  planTriggers,
  type TriggerOutcome,
} from './triggers.ts';

/**
 * A handler's triggers → sessions, messages and tasks, and the delivery marked done under its
 * lease, in one transaction: nothing of a pass is stored unless all of it is. `undefined` means
 * the lease was lost meanwhile (another worker has the row) and this pass left nothing.
 *
 * The worker stores its results in batches (TriggerBatcher, group-commit.ts): the result of
 * every handler call that finished while the previous transaction ran goes into the next one,
 * which saves a delivery the BEGIN, COMMIT, lease check and NOTIFY round trips.
 */

export interface StoreDeps {
  sql: Pool;
  registry: IntegrationRegistry;
  publish: PublishTaskEvents;
}

export type StoredRow = Pick<LeasedDelivery, 'id' | 'integration' | 'leaseToken'>;

export interface PendingStore {
  row: StoredRow;
  triggers: Trigger[];
  /**
   * The processing span's traceparent: a batch stores many rows in one transaction, outside
   * their spans, so each row carries its own for the tasks it creates.
   */
  traceParent?: string | null;
}

/** Results stored in one transaction at most: a batch holds its sessions' row locks. */
export const MAX_STORE_BATCH = 32;

class LeaseLost extends Error {}

function policyOf(registry: IntegrationRegistry): Policy {
  const policy = registry.currentPolicy();
  if (!policy) {
    throw new SwitchboardError('policy_invalid', 'the policy file is invalid: no task can run');
  }
  return policy;
}

/** A row's triggers checked and planned (planTriggers) before they join a batch. */
type PlannedStore = PendingStore & { plan: PlannedTriggers };

/** Throws handler_result_invalid for the row alone, before any transaction. */
function planStore(deps: StoreDeps, item: PendingStore): PlannedStore {
  const manifest = deps.registry.get(item.row.integration)?.manifest;
  const plan = planTriggers({
    integration: item.row.integration,
    dispatchers: manifest?.dispatchers.map((d) => d.type) ?? [],
    deliveryRowId: item.row.id,
    triggers: item.triggers,
    policy: policyOf(deps.registry),
    ...(item.traceParent !== undefined && { traceParent: item.traceParent }),
  });
  return { ...item, plan };
}

/**
 * Several rows' triggers, then all of them marked done, in one transaction of two statements:
 * every row's triggers in one (applyTriggerBatch; a row's messages keep their order), then
 * finishDeliveries under the leases. Throws, having stored nothing, when any row fails or lost
 * its lease: the caller then stores row by row.
 */
async function storeAll(
  deps: StoreDeps,
  items: readonly PlannedStore[],
): Promise<{ outcomes: TriggerOutcome[]; events: TaskEvent[] }> {
  return deps.sql.begin(async (tx) => {
    const applied = await applyTriggerBatch(
      tx,
      items.map((item) => item.plan),
    );
    const finished = await finishDeliveries(
      tx,
      items.map((item, i) => ({
        id: item.row.id,
        token: item.row.leaseToken,
        status: item.triggers.length === 0 ? 'ignored' : 'done',
        result: { ...applied[i]!.outcome },
      })),
    );
    if (finished.length !== items.length) throw new LeaseLost();
    return { outcomes: applied.map((a) => a.outcome), events: applied.flatMap((a) => a.events) };
  });
}

/** One row's pass in its own transaction (sync webhooks; a batch that failed, row by row). */
export async function storeTriggers(
  deps: StoreDeps,
  item: PendingStore,
): Promise<TriggerOutcome | undefined> {
  return storePlanned(deps, planStore(deps, item));
}

async function storePlanned(
  deps: StoreDeps,
  item: PlannedStore,
): Promise<TriggerOutcome | undefined> {
  let stored: { outcomes: TriggerOutcome[]; events: TaskEvent[] };
  try {
    stored = await storeAll(deps, [item]);
  } catch (error) {
    if (error instanceof LeaseLost) return undefined;
    throw error;
  }
  if (stored.events.length > 0) await deps.publish(stored.events);
  return stored.outcomes[0];
}

/**
 * The worker's group commit: `store()` queues a row's triggers; a transaction (two at a time)
 * takes everything queued (up to MAX_STORE_BATCH) and publishes its events after the commit. A
 * row's triggers are checked before it is queued (an invalid one fails that row at once); a
 * batch that fails anyway (a lost lease, a profile read from a session, a deadlock) is stored
 * again row by row, so it fails that row alone, exactly as without batching. `batch` in the answer: the rows of its transaction.
 */
export class TriggerBatcher {
  private readonly commits: GroupCommit<PlannedStore, TriggerOutcome | undefined>;
  private readonly deps: StoreDeps;

  constructor(deps: StoreDeps, log: Logger) {
    this.deps = deps;
    this.commits = new GroupCommit({
      // Two transactions at once: while one waits on its COMMIT (the WAL flush) or the gateway
      // builds the next, the other runs. A 10,000-row backlog drained at 598 and 493/s vs 484
      // and 411/s with 1 (test/bench/drain-probe.ts, alternated, loaded 2-core machine). Two
      // batches lock the sessions they share in key order (insertSessionTasks), so one waits
      // for the other; a deadlock (40P01) would be stored row by row like any failed batch.
      maxInFlight: 2,
      maxBatch: MAX_STORE_BATCH,
      afterIo: true,
      many: async (batch) => {
        const stored = await storeAll(deps, batch);
        if (stored.events.length > 0) {
          // Committed: every row is answered even if telling the listeners fails.
          await deps.publish(stored.events).catch((error: unknown) => {
            log.warn({ err: error }, 'could not publish task events (followers poll)');
          });
        }
        return stored.outcomes;
      },
      one: (item) => storePlanned(deps, item),
      onBatchError: (error, rows) => {
        if (!(error instanceof LeaseLost)) {
          log.debug({ err: error, rows }, 'batch store failed; row by row');
        }
      },
    });
  }

  /** The row's outcome (undefined: its lease was lost) and the rows of its transaction. */
  async store(item: PendingStore): Promise<{ outcome: TriggerOutcome | undefined; batch: number }> {
    // Checked first: a row with an invalid trigger fails alone, not its whole batch.
    const { value, batch } = await this.commits.submit(planStore(this.deps, item));
    return { outcome: value, batch };
  }
}
