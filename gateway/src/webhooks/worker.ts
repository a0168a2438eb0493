import { randomUUID } from 'node:crypto';
import type { HandlerResult, Manifest } from '@switchboard/sdk';
import { CoalescedRun } from '../coalesced-run.ts';
import type { Pool } from '../db/connect.ts';
import type { TaskEvent } from '../events/store.ts';
import type { PublishTaskEvents } from '../events/task-events.ts';
import { callHandler, HandlerError } from '../integrations/handler-call.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import type { Logger } from '../log.ts';
import {
  claimDeliveries,
  finishDelivery,
  type LeasedDelivery,
  recoverExpiredDeliveries,
  retryOrFailDelivery,
} from './store.ts';
import { applyTriggers, parseHandlerResult, type TriggerOutcome } from './triggers.ts';

/**
 * Turns queued deliveries (webhooks in async mode, manifest schedule fires) into tasks: claim
 * with SKIP LOCKED and a lease, call the integration's handler, and in ONE transaction apply
 * its triggers and mark the row done under the lease. A worker that dies mid-way leaves the row
 * `processing` until its lease expires; another worker then takes it again, and the triggers'
 * idempotency keys keep the second pass from creating a second task.
 */

/** Handlers get 30 s (DEFAULT_HANDLER_TIMEOUT_MS); the lease outlives one call with room. */
export const DELIVERY_LEASE_MS = 60_000;

/** Waits before attempts 2…5 (max_attempts defaults to 5): a restarting server gets ~2.5 min. */
export const DELIVERY_BACKOFF_MS = [1_000, 5_000, 30_000, 120_000];

/** Handlers called at once by one gateway: a shared stdio server answers them in turn anyway. */
const CONCURRENCY = 16;

/**
 * Acknowledging comes first: Slack gives up after 3 s and GitHub after 10 s, while a stored
 * delivery can wait. Processing one costs ~2.7 ms of machine CPU (handler call, ~8 statements;
 * test/bench/RESULTS.md) against ~0.3 ms to acknowledge one, so on 2 cores a worker running 16
 * at once during a burst held acknowledgements to ~1,100/s. While more than BURST_ARRIVALS
 * deliveries arrived in the last BURST_WINDOW_MS the worker keeps only BURST_CONCURRENCY in
 * flight; the backlog drains at full speed once the burst is over.
 */
const BURST_WINDOW_MS = 250;
const BURST_ARRIVALS = 50; // 200/s
const BURST_CONCURRENCY = 2;
/** Other replicas' inserts are found by this poll (this process's are woken at once). */
const POLL_MS = 500;
const RECOVER_MS = 5_000;

export interface DeliveryWorkerDeps {
  sql: Pool;
  log: Logger;
  registry: IntegrationRegistry;
  publish: PublishTaskEvents;
  backoffMs?: readonly number[];
  leaseMs?: number;
}

type Job = { tool: string; args: Record<string, unknown> } | { error: HandlerError };

/** What processing a row needs of it (a claimed row, or a sync request's own). */
export type DeliveryJob = Pick<
  LeasedDelivery,
  'id' | 'kind' | 'integration' | 'endpoint' | 'deliveryId' | 'headers' | 'body' | 'leaseToken'
>;

/** Which tool a row goes to, and with what; an endpoint the manifest lost fails the row. */
export function jobFor(manifest: Manifest | undefined, row: DeliveryJob): Job {
  const where = `${row.integration}/${row.endpoint}`;
  if (!manifest) {
    return { error: new HandlerError('handler_unavailable', `${where}: no manifest`, true) };
  }
  if (row.kind === 'schedule') {
    const schedule = manifest.schedules.find((s) => s.name === row.endpoint);
    if (!schedule) {
      return {
        error: new HandlerError('endpoint_unknown', `${where}: no such schedule now`, false),
      };
    }
    return { tool: schedule.handler, args: JSON.parse(row.body.toString('utf8')) };
  }
  const webhook = manifest.webhooks.find((w) => w.name === row.endpoint);
  if (!webhook) {
    return { error: new HandlerError('endpoint_unknown', `${where}: no such webhook now`, false) };
  }
  return {
    tool: webhook.handler,
    args: {
      endpoint: row.endpoint,
      headers: row.headers,
      body: row.body.toString('utf8'),
      deliveryId: row.deliveryId,
    },
  };
}

export class DeliveryWorker {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;
  private readonly leaseMs: number;
  private readonly backoffMs: readonly number[];
  private windowStart = 0;
  private arrivals = 0;
  private previousArrivals = 0;

  private readonly claims = new CoalescedRun(
    () => this.claimAll(),
    (error) => this.deps.log.warn({ err: error }, 'delivery claim failed (retried)'),
  );
  private constructor(private readonly deps: DeliveryWorkerDeps) {
    this.leaseMs = deps.leaseMs ?? DELIVERY_LEASE_MS;
    this.backoffMs = deps.backoffMs ?? DELIVERY_BACKOFF_MS;
  }

  static async start(deps: DeliveryWorkerDeps): Promise<DeliveryWorker> {
    const worker = new DeliveryWorker(deps);
    await worker.recover();
    worker.timers.push(
      setInterval(() => worker.wake(), POLL_MS),
      setInterval(() => void worker.recover(), RECOVER_MS),
    );
    for (const t of worker.timers) t.unref();
    worker.wake();
    return worker;
  }

  /** A webhook delivery was just stored: counted for the burst rule, then a wake. */
  accepted(): void {
    this.tick(Date.now());
    this.arrivals += 1;
    this.wake();
  }

  private tick(now: number): void {
    if (now - this.windowStart < BURST_WINDOW_MS) return;
    // A window with no arrivals since the last one ends the burst.
    this.previousArrivals = now - this.windowStart < 2 * BURST_WINDOW_MS ? this.arrivals : 0;
    this.arrivals = 0;
    this.windowStart = now;
  }

  /** How many handler calls may be in flight now. */
  private concurrency(): number {
    this.tick(Date.now());
    const burst = Math.max(this.arrivals, this.previousArrivals) > BURST_ARRIVALS;
    return burst ? BURST_CONCURRENCY : CONCURRENCY;
  }

  /** Claim now, or right after the pass that is running (wakes are coalesced). */
  wake(): void {
    if (!this.stopped) this.claims.kick();
  }

  /** Stops claiming and waits for the handlers in flight (their rows finish or stay leased). */
  async close(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.allSettled([...this.inFlight]);
  }

  private async recover(): Promise<void> {
    if (this.stopped) return;
    try {
      const n = await recoverExpiredDeliveries(this.deps.sql, 500);
      if (n > 0) {
        this.deps.log.warn({ deliveries: n }, 'expired delivery leases recovered');
        this.wake();
      }
    } catch (error) {
      this.deps.log.warn({ err: error }, 'delivery lease recovery failed (retried in 5 s)');
    }
  }

  private async claimAll(): Promise<void> {
    while (!this.stopped) {
      const free = this.concurrency() - this.inFlight.size;
      if (free <= 0) return;
      const rows = await claimDeliveries(this.deps.sql, {
        token: randomUUID(),
        leaseMs: this.leaseMs,
        limit: free,
      });
      for (const row of rows) {
        const done: Promise<void> = this.process(row).finally(() => {
          this.inFlight.delete(done);
          this.wake();
        });
        this.inFlight.add(done);
      }
      if (rows.length < free) return;
    }
  }

  private async process(row: LeasedDelivery): Promise<void> {
    const log = this.deps.log.child({
      integration: row.integration,
      endpoint: row.endpoint,
      delivery: row.id,
      kind: row.kind,
    });
    try {
      const { outcome } = await processDelivery(this.deps, row);
      if (outcome === undefined) {
        log.warn('delivery lease lost before its result was stored; another worker has it');
        return;
      }
      log.info(
        { triggers: outcome.triggers, tasks: outcome.tasks.length, attempt: row.attempts },
        'delivery processed',
      );
    } catch (error) {
      await this.failed(row, error, log);
    }
  }

  private async failed(row: LeasedDelivery, error: unknown, log: Logger): Promise<void> {
    const retryable = !(error instanceof HandlerError) || error.retryable;
    const message = error instanceof Error ? error.message : String(error);
    const wait = this.backoffMs[Math.min(row.attempts - 1, this.backoffMs.length - 1)] ?? 0;
    try {
      const status = await retryOrFailDelivery(this.deps.sql, row.id, row.leaseToken, {
        error: message.slice(0, 10_000),
        retryInMs: retryable ? wait : null,
      });
      const fields = { err: error, attempt: row.attempts, status };
      if (status === 'failed') log.error(fields, 'delivery failed');
      else log.warn({ ...fields, retryInMs: wait }, 'delivery attempt failed; retrying');
    } catch (storeError) {
      // The lease expires and recovery retries it: nothing is lost, only delayed.
      log.error({ err: storeError, cause: message }, 'could not record a delivery failure');
    }
  }
}

/**
 * One delivery: its handler's answer, then triggers + done in one transaction. undefined when
 * the lease was lost meanwhile (the transaction rolled back: nothing of this pass remains).
 */
export async function processDelivery(
  deps: Pick<DeliveryWorkerDeps, 'sql' | 'registry' | 'publish'>,
  row: DeliveryJob,
  options: { timeoutMs?: number } = {},
): Promise<{ outcome: TriggerOutcome | undefined; response: HandlerResult['response'] }> {
  const job = jobFor(deps.registry.get(row.integration)?.manifest, row);
  if ('error' in job) throw job.error;
  const answer = await callHandler(deps.registry, row.integration, job.tool, job.args, options);
  const result = parseHandlerResult(row.integration, answer);
  return { outcome: await storeTriggers(deps, row, result.triggers), response: result.response };
}

class LeaseLost extends Error {}

async function storeTriggers(
  deps: Pick<DeliveryWorkerDeps, 'sql' | 'registry' | 'publish'>,
  row: Pick<LeasedDelivery, 'id' | 'integration' | 'leaseToken'>,
  triggers: Parameters<typeof applyTriggers>[1]['triggers'],
): Promise<TriggerOutcome | undefined> {
  const policy = deps.registry.currentPolicy();
  if (!policy) {
    throw new HandlerError('policy_invalid', 'the policy file is invalid: no task can run', true);
  }
  let events: TaskEvent[] = [];
  let outcome: TriggerOutcome;
  try {
    outcome = await deps.sql.begin(async (tx) => {
      const manifest = deps.registry.get(row.integration)?.manifest;
      const applied = await applyTriggers(tx, {
        integration: row.integration,
        dispatchers: manifest?.dispatchers.map((d) => d.type) ?? [],
        deliveryRowId: row.id,
        triggers,
        policy,
      });
      const status = triggers.length === 0 ? 'ignored' : 'done';
      const ok = await finishDelivery(tx, row.id, row.leaseToken, {
        status,
        result: { ...applied.outcome },
      });
      if (!ok) throw new LeaseLost();
      events = applied.events;
      return applied.outcome;
    });
  } catch (error) {
    if (error instanceof LeaseLost) return undefined;
    throw error;
  }
  if (events.length > 0) await deps.publish(events);
  return outcome;
}
