import { randomUUID } from 'node:crypto';
import type { HandlerResult, Manifest } from '@switchboard/sdk';
import { CoalescedRun } from '../coalesced-run.ts';
import type { Pool } from '../db/connect.ts';
import { SwitchboardError } from '../errors.ts';
import type { PublishTaskEvents } from '../events/task-events.ts';
import { callHandler } from '../integrations/handler-call.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import type { Logger } from '../log.ts';
import {
  claimDeliveries,
  type LeasedDelivery,
  recoverExpiredDeliveries,
  retryOrFailDelivery,
} from './store.ts';
import { type StoreDeps, storeTriggers, TriggerBatcher } from './store-triggers.ts';
import { parseHandlerResult, type TriggerOutcome } from './triggers.ts';

/**
 * Turns queued deliveries (webhooks in async mode, manifest schedule fires) into tasks: claim
 * with SKIP LOCKED and a lease, call the integration's handler, and in ONE transaction apply
 * its triggers and mark the row done under the lease (store-triggers.ts: the results of calls
 * that finished together share that transaction). A worker that dies mid-way leaves the row
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
 * delivery can wait. Processing one costs ~0.75–1.3 ms of machine CPU (handler call and its
 * share of a batched transaction; test/bench/RESULTS.md, run of 2026-12-02 09:59) against ~0.3 ms to
 * acknowledge one, and before this rule a worker running 16 at once during a burst held
 * acknowledgements to ~1,100/s on 2 cores. While more than BURST_ARRIVALS
 * deliveries arrived in the last BURST_WINDOW_MS the worker keeps only BURST_CONCURRENCY in
 * flight; the backlog drains at full speed once the burst is over.
 */
const BURST_WINDOW_MS = 250;
const BURST_ARRIVALS = 50; // 200/s
const BURST_CONCURRENCY = 2;
/** Behind a backlog, with handler calls in flight, claim only once this many slots are free. */
const CLAIM_CHUNK = 8;
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

type Job = { tool: string; args: Record<string, unknown> } | { error: SwitchboardError };

/** What processing a row needs of it (a claimed row, or a sync request's own). */
export type DeliveryJob = Pick<
  LeasedDelivery,
  'id' | 'kind' | 'integration' | 'endpoint' | 'deliveryId' | 'headers' | 'body' | 'leaseToken'
>;

/** Which tool a row goes to, and with what; an endpoint the manifest lost fails the row. */
export function jobFor(manifest: Manifest | undefined, row: DeliveryJob): Job {
  const where = `${row.integration}/${row.endpoint}`;
  if (!manifest) {
    return { error: new SwitchboardError('handler_unavailable', `${where}: no manifest`) };
  }
  if (row.kind === 'schedule') {
    const schedule = manifest.schedules.find((s) => s.name === row.endpoint);
    if (!schedule) {
      return {
        error: new SwitchboardError('endpoint_unknown', `${where}: no such schedule now`),
      };
    }
    return { tool: schedule.handler, args: JSON.parse(row.body.toString('utf8')) };
  }
  const webhook = manifest.webhooks.find((w) => w.name === row.endpoint);
  if (!webhook) {
    return { error: new SwitchboardError('endpoint_unknown', `${where}: no such webhook now`) };
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
  /** The last claim found as many due rows as it asked for. */
  private backlog = false;

  private readonly batcher: TriggerBatcher;
  private readonly claims = new CoalescedRun(
    () => this.claimAll(),
    (error) => this.deps.log.warn({ err: error }, 'delivery claim failed (retried)'),
  );
  private constructor(private readonly deps: DeliveryWorkerDeps) {
    this.leaseMs = deps.leaseMs ?? DELIVERY_LEASE_MS;
    this.backoffMs = deps.backoffMs ?? DELIVERY_BACKOFF_MS;
    this.batcher = new TriggerBatcher(deps, deps.log);
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
      const concurrency = this.concurrency();
      const free = concurrency - this.inFlight.size;
      // Behind a backlog it claims in chunks: a claim walks the due index past the rows
      // processed since the last vacuum, so one claim of 8 costs about what one of 1 does.
      // Without one, a free slot is taken at once (a slow handler must not delay the next).
      const chunk = this.backlog && this.inFlight.size > 0 ? Math.min(CLAIM_CHUNK, concurrency) : 1;
      if (free < chunk) return;
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
      // A claim of several that got all it asked for says more are waiting; one that got
      // fewer, that none are (a claim of 1 that got it says nothing either way).
      if (rows.length < free) {
        this.backlog = false;
        return;
      }
      if (free > 1) this.backlog = true;
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
      const { triggers } = await handle(this.deps, row, {});
      const { outcome, batch } = await this.batcher.store({ row, triggers });
      if (outcome === undefined) {
        log.warn('delivery lease lost before its result was stored; another worker has it');
        return;
      }
      log.info(
        { triggers: outcome.triggers, tasks: outcome.tasks.length, attempt: row.attempts, batch },
        'delivery processed',
      );
    } catch (error) {
      await this.failed(row, error, log);
    }
  }

  private async failed(row: LeasedDelivery, error: unknown, log: Logger): Promise<void> {
    const retryable = !(error instanceof SwitchboardError) || error.retryable;
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

/** The handler's answer for a row: its validated triggers and (sync mode) its response. */
async function handle(
  deps: Pick<DeliveryWorkerDeps, 'registry'>,
  row: DeliveryJob,
  options: { timeoutMs?: number },
): Promise<HandlerResult> {
  const job = jobFor(deps.registry.get(row.integration)?.manifest, row);
  if ('error' in job) throw job.error;
  const answer = await callHandler(deps.registry, row.integration, job.tool, job.args, options);
  return parseHandlerResult(row.integration, answer);
}

/**
 * One delivery on its own (sync webhooks): its handler's answer, then triggers + done in one
 * transaction. undefined when the lease was lost meanwhile (nothing of this pass remains).
 */
export async function processDelivery(
  deps: StoreDeps,
  row: DeliveryJob,
  options: { timeoutMs?: number } = {},
): Promise<{ outcome: TriggerOutcome | undefined; response: HandlerResult['response'] }> {
  const result = await handle(deps, row, options);
  return {
    outcome: await storeTriggers(deps, { row, triggers: result.triggers }),
    response: result.response,
  };
}
