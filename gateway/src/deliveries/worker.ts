import { randomUUID } from 'node:crypto';
import type { HandlerResult, Manifest } from '@switchboard/sdk';
import type { Pool } from '../db/connect.ts';
import { SwitchboardError } from '../errors.ts';
import type { PublishTaskEvents } from '../events/task-events.ts';
import { callHandler } from '../integrations/handler-call.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import type { Logger } from '../log.ts';
import type { RetrySchedule } from '../queue/backoff.ts';
import { type LeasedQueue, QueueWorker } from '../queue/worker.ts';
import { currentTraceparent, inSpan, SpanKind } from '../telemetry/spans.ts';
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

/**
 * Waits after failed attempts 1…4 (max_attempts defaults to 5): a restarting server gets
 * ~2.5 min. Jittered ±20 % by the queues' one backoff (queue/backoff.ts).
 */
export const DELIVERY_RETRY_SCHEDULE_MS: RetrySchedule = [1_000, 5_000, 30_000, 120_000];

/**
 * Handlers called at once by one gateway: a shared stdio server answers them in turn anyway, so
 * more in flight buys no handler speed, but the stored results then commit in larger batches
 * and the claims come in larger chunks (fewer claims, BEGIN/COMMITs, finishes and NOTIFYs per
 * delivery). 64 instead of 16 with chunks of 32 instead of 8: a 10,000-row backlog drained at
 * 468 and 720/s vs 378 and 397/s, gateway CPU 604/527 vs 697/738 µs and PostgreSQL 686/547 vs
 * 731/762 µs per delivery (test/bench/drain-probe.ts, alternated, loaded 2-core machine).
 */
const CONCURRENCY = 64;

/**
 * Acknowledging comes first: Slack gives up after 3 s and GitHub after 10 s, while a stored
 * delivery can wait. Processing one costs ~0.75–1.3 ms of machine CPU (handler call and its
 * share of a batched transaction; test/bench/HISTORY.md, run of 2026-12-02 09:59) against ~0.3 ms to
 * acknowledge one, and before this rule a worker running 16 at once during a burst held
 * acknowledgements to ~1,100/s on 2 cores. While more than BURST_ARRIVALS
 * deliveries arrived in the last BURST_WINDOW_MS the worker keeps only BURST_CONCURRENCY in
 * flight; the backlog drains at full speed once the burst is over.
 */
const BURST_WINDOW_MS = 250;
const BURST_ARRIVALS = 50; // 200/s
const BURST_CONCURRENCY = 2;
/** Behind a backlog, with handler calls in flight, claim only once this many slots are free. */
const CLAIM_CHUNK = 32;
/** Other replicas' inserts are found by this poll (this process's are woken at once). */
const POLL_MS = 500;
const RECOVER_MS = 5_000;

export interface DeliveryWorkerDeps {
  sql: Pool;
  log: Logger;
  registry: IntegrationRegistry;
  publish: PublishTaskEvents;
  retryScheduleMs?: RetrySchedule;
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

/** The burst rule above: arrivals counted per BURST_WINDOW_MS decide the concurrency. */
class BurstRule {
  private windowStart = 0;
  private arrivals = 0;
  private previousArrivals = 0;

  arrived(): void {
    this.tick(Date.now());
    this.arrivals += 1;
  }

  private tick(now: number): void {
    if (now - this.windowStart < BURST_WINDOW_MS) return;
    // A window with no arrivals since the last one ends the burst.
    this.previousArrivals = now - this.windowStart < 2 * BURST_WINDOW_MS ? this.arrivals : 0;
    this.arrivals = 0;
    this.windowStart = now;
  }

  /** How many handler calls may be in flight now. */
  concurrency(): number {
    this.tick(Date.now());
    const burst = Math.max(this.arrivals, this.previousArrivals) > BURST_ARRIVALS;
    return burst ? BURST_CONCURRENCY : CONCURRENCY;
  }
}

export class DeliveryWorker {
  private constructor(
    private readonly worker: QueueWorker<LeasedDelivery>,
    private readonly burst: BurstRule,
  ) {}

  static async start(deps: DeliveryWorkerDeps): Promise<DeliveryWorker> {
    const burst = new BurstRule();
    return new DeliveryWorker(await QueueWorker.start(deliveryQueue(deps, burst)), burst);
  }

  /** A webhook delivery was just stored: counted for the burst rule, then a wake. */
  accepted(): void {
    this.burst.arrived();
    this.wake();
  }

  /** Claim now, or right after the pass that is running (wakes are coalesced). */
  wake(): void {
    this.worker.wake();
  }

  /** Stops claiming and waits for the handlers in flight (their rows finish or stay leased). */
  close(): Promise<void> {
    return this.worker.close();
  }
}

/** What the delivery queue supplies to the shared worker loop (queue/worker.ts). */
function deliveryQueue(deps: DeliveryWorkerDeps, burst: BurstRule): LeasedQueue<LeasedDelivery> {
  const { sql } = deps;
  const leaseMs = deps.leaseMs ?? DELIVERY_LEASE_MS;
  const schedule = deps.retryScheduleMs ?? DELIVERY_RETRY_SCHEDULE_MS;
  const batcher = new TriggerBatcher(deps, deps.log);
  const logFor = (row: LeasedDelivery) =>
    deps.log.child({
      integration: row.integration,
      endpoint: row.endpoint,
      delivery: row.id,
      kind: row.kind,
    });
  const slot = {
    key: '',
    get limit() {
      return burst.concurrency();
    },
  };
  return {
    name: 'delivery',
    log: deps.log,
    idField: 'delivery',
    id: (row) => row.id,
    pollMs: POLL_MS,
    recoverMs: RECOVER_MS,
    claimChunk: CLAIM_CHUNK,
    slots: () => [slot],
    claim: (_slot, limit) => claimDeliveries(sql, { token: randomUUID(), leaseMs, limit }),
    handle: (row) =>
      // One event is one trace: the span continues the request's that stored the row, here or
      // on another replica, for every attempt.
      inSpan(
        'delivery process',
        {
          kind: SpanKind.CONSUMER,
          parent: row.traceParent,
          attributes: {
            'switchboard.delivery.id': row.id,
            'switchboard.delivery.kind': row.kind,
            'switchboard.integration': row.integration,
            'switchboard.webhook.endpoint': row.endpoint,
            'switchboard.attempt': row.attempts,
          },
        },
        async (span) => {
          const { triggers } = await handle(deps, row, {});
          const traceParent = currentTraceparent();
          const { outcome, batch } = await inSpan(
            'delivery store triggers',
            { attributes: { 'switchboard.triggers': triggers.length } },
            () => batcher.store({ row, triggers, traceParent }),
          );
          if (outcome === undefined) {
            span.setAttribute('switchboard.lease_lost', true);
            logFor(row).warn(
              'delivery lease lost before its result was stored; another worker has it',
            );
            return;
          }
          span.setAttribute('switchboard.tasks', outcome.tasks.length);
          // The row's fields inline, not a child logger: a pino child per delivery cost ~4 µs of
          // the gateway's CPU each (0.36 % of a profiled 10,000-row drain: its bindings are
          // serialized and redacted apart).
          deps.log.info(
            {
              integration: row.integration,
              endpoint: row.endpoint,
              delivery: row.id,
              kind: row.kind,
              triggers: outcome.triggers,
              tasks: outcome.tasks.length,
              attempt: row.attempts,
              batch,
            },
            'delivery processed',
          );
        },
      ),
    async fail(row, error, retryInMs) {
      const message = error instanceof Error ? error.message : String(error);
      const status = await retryOrFailDelivery(sql, row.id, row.leaseToken, {
        error: message.slice(0, 10_000),
        retryInMs,
      });
      const fields = { err: error, attempt: row.attempts, status };
      const log = logFor(row);
      if (status === 'failed') log.error(fields, 'delivery failed');
      else log.warn({ ...fields, retryInMs }, 'delivery attempt failed; retrying');
    },
    retry: {
      schedule: () => schedule,
      attempt: (row) => row.attempts,
      classify: (error) => ({ retryable: !(error instanceof SwitchboardError) || error.retryable }),
    },
    async recover() {
      const n = await recoverExpiredDeliveries(sql, 500);
      if (n > 0) deps.log.warn({ deliveries: n }, 'expired delivery leases recovered');
      return n;
    },
  };
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
