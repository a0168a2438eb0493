import * as z from 'zod';
import { type AuditActor, appendAudit } from '../audit/store.ts';
import type { Pool, Sql } from '../db/connect.ts';
import { notFound, SwitchboardError } from '../errors.ts';
import { insertTaskEvents, type NewTaskEvent, type TaskEvent } from '../events/store.ts';
import type { PublishTaskEvents } from '../events/task-events.ts';
import {
  claimDueRows,
  findOutboxRow,
  type LeasedOutboxRow,
  type OutboxFilter,
  type OutboxRow,
  recoverExpiredRows,
  redriveAllDeadRows,
  redriveDeadRow,
  type Settlement,
  settleLeasedRow,
} from './store.ts';

/**
 * The dispatch outbox (ARCHITECTURE §1 "─▶ outbox", §6): a task's result, or an event for an
 * operator's subscription, written in the transaction of the change it reports, then delivered
 * at least once by the OutboxWorker with backoff until delivered or dead-lettered. Each
 * function here is one transaction; dispatch rows record their attempts as task events
 * (dispatch:delivered, dispatch:retry, dispatch:dead), handed to `publish` after the commit.
 * A task's dispatch row is inserted by tasks/sql/outbox-row.ts, in the transaction that ends it.
 */

export function claimOutboxRows(
  sql: Sql,
  options: { leaseMs: number; limit: number },
): Promise<LeasedOutboxRow[]> {
  return claimDueRows(sql, options);
}

const publishing = async (publish: PublishTaskEvents | undefined, events: TaskEvent[]) => {
  if (publish && events.length > 0) await publish(events);
};

/** The task event a settled dispatch row writes; none for event rows (no loop of events). */
function dispatchEvent(row: OutboxRow, error: string | null): NewTaskEvent | undefined {
  if (row.kind !== 'dispatch' || row.taskId === null) return undefined;
  const base = { outboxId: row.id, attempt: row.attempts, type: row.target.type };
  switch (row.status) {
    case 'delivered':
      return { taskId: row.taskId, type: 'dispatch:delivered', data: base };
    case 'pending':
      return {
        taskId: row.taskId,
        type: 'dispatch:retry',
        data: { ...base, error, nextAttemptAt: row.nextAttemptAt.toISOString() },
      };
    case 'dead':
      return { taskId: row.taskId, type: 'dispatch:dead', data: { ...base, error } };
    default:
      return undefined;
  }
}

export type SettleResult = { outcome: 'ok'; row: OutboxRow } | { outcome: 'lease_lost' };

/** Ends an attempt with the lease it holds; `lease_lost` when that lease is not current. */
export async function settleAttempt(
  sql: Pool,
  lease: { id: string; token: string },
  settlement: Settlement,
  publish?: PublishTaskEvents,
): Promise<SettleResult> {
  const result = await sql.begin(async (tx) => {
    const row = await settleLeasedRow(tx, lease.id, lease.token, settlement);
    if (!row) return { outcome: 'lease_lost' as const, events: [] };
    const event = dispatchEvent(row, settlement.error);
    const events = event ? await insertTaskEvents(tx, [event]) : [];
    return { outcome: 'ok' as const, row, events };
  });
  await publishing(publish, result.events);
  return result.outcome === 'ok' ? { outcome: 'ok', row: result.row } : { outcome: 'lease_lost' };
}

/** Expired delivery leases back to pending (or dead at max_attempts); safe on every replica. */
export async function recoverOutboxLeases(
  sql: Pool,
  options: { limit?: number } = {},
  publish?: PublishTaskEvents,
): Promise<OutboxRow[]> {
  const result = await sql.begin(async (tx) => {
    const rows = await recoverExpiredRows(tx, options.limit ?? 500);
    const events = await insertTaskEvents(
      tx,
      rows.flatMap((r) => dispatchEvent(r, r.lastError) ?? []),
    );
    return { rows, events };
  });
  await publishing(publish, result.events);
  return result.rows;
}

const OutboxId = z.string().regex(/^[1-9][0-9]{0,18}$/);

export async function getOutboxRow(sql: Sql, id: string): Promise<OutboxRow> {
  const row = OutboxId.safeParse(id).success ? await findOutboxRow(sql, id) : undefined;
  if (!row) throw notFound(`no outbox entry ${JSON.stringify(id)}`);
  return row;
}

export type { OutboxFilter, OutboxRow };

/**
 * A dead letter back to pending, due now, with its attempts reset to 0 (a fresh budget of
 * max_attempts); its attempt log is kept. 409 outbox_not_dead for any other status.
 */
export async function redriveOutboxRow(
  sql: Pool,
  id: string,
  actor: AuditActor,
): Promise<OutboxRow> {
  if (!OutboxId.safeParse(id).success) throw notFound(`no outbox entry ${JSON.stringify(id)}`);
  return sql.begin(async (tx) => {
    const row = await redriveDeadRow(tx, id);
    if (!row) {
      const existing = await findOutboxRow(tx, id);
      if (!existing) throw notFound(`no outbox entry ${JSON.stringify(id)}`);
      throw new SwitchboardError(
        'outbox_not_dead',
        `outbox entry ${id} is ${existing.status}; only a dead entry can be redriven`,
      );
    }
    await appendAudit(tx, { ...actor, action: 'outbox.redrive', target: id });
    return row;
  });
}

/** Every dead letter at once; answers how many. */
export async function redriveAllDead(sql: Pool, actor: AuditActor): Promise<number> {
  return sql.begin(async (tx) => {
    const count = await redriveAllDeadRows(tx);
    await appendAudit(tx, { ...actor, action: 'outbox.redrive_all', details: { count } });
    return count;
  });
}
