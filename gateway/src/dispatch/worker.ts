import { dispatcherInputSchema } from '@switchboard/sdk';
import * as z from 'zod';
import { CoalescedRun } from '../coalesced-run.ts';
import type { EventBus } from '../db/bus.ts';
import type { Pool } from '../db/connect.ts';
import { SwitchboardError } from '../errors.ts';
import { type PublishTaskEvents, TASK_EVENTS_CHANNEL } from '../events/task-events.ts';
import { callHandler } from '../integrations/handler-call.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import type { Logger } from '../log.ts';
import { retryDelayMs } from './backoff.ts';
import { isPostFailure } from './errors.ts';
import { type DispatchedTask, deliverInternal } from './internal.ts';
import { claimOutboxRows, recoverOutboxLeases, settleAttempt } from './outbox.ts';
import type { LeasedOutboxRow, Settlement } from './store.ts';
import { subscriptionEndpoint } from './subscriptions.ts';

/**
 * The outbox worker (ARCHITECTURE §1 "dispatcher … retried with backoff until delivered or
 * dead-lettered", §6): claims due rows with SKIP LOCKED and a lease, delivers each by its
 * target — a manifest dispatcher's hidden tool, the built-in `internal` or `webhook`, or an
 * event subscription's URL — and settles the attempt only while its lease is still current.
 * Any number of gateways run one; delivery is at least once (a receiver dedupes on the
 * webhook-id, `outbox_<id>`, or the dispatcher on the task id).
 */

/** What the gateway's SSRF-guarded HTTP client does (dispatch/http-post.ts); tests inject one. */
export type PostWebhook = (input: {
  url: string;
  body: string;
  /** whsec_…: sign with Standard Webhooks; absent: unsigned. */
  secret?: string;
  /** webhook-id: the same on every retry of a row. */
  messageId: string;
}) => Promise<{ status: number; retryAfterMs?: number; body: string }>;

export interface OutboxWorkerDeps {
  sql: Pool;
  log: Logger;
  registry: IntegrationRegistry;
  bus: EventBus;
  publish: PublishTaskEvents;
  /** Decrypts the subscriptions' signing secrets. */
  masterKey: Buffer;
  postWebhook: PostWebhook;
  /** Waits before attempts 1, 2, …, in ms (dispatch/backoff.ts); tests shorten it. */
  backoff?: readonly number[];
  leaseMs?: number;
  /** Deliveries in flight at once on this gateway. */
  concurrency?: number;
  pollMs?: number;
}

/**
 * A lease of 2 min: four times the longest delivery (a dispatcher's 30 s handler timeout; the
 * HTTP client's deadline is shorter), so a live delivery is never taken over and needs no
 * heartbeat, while a dead gateway's rows come back within ~2 min.
 */
export const OUTBOX_LEASE_MS = 120_000;
const HANDLER_TIMEOUT_MS = 30_000;
/** Due retries are looked for this often (new rows also wake the worker through the bus). */
const POLL_MS = 1_000;
/** See wakeSoon: a result waits at most this long for the claim its task's end wakes. */
const NOTICE_COALESCE_MS = 50;
const RECOVER_MS = 5_000;
const DEFAULT_CONCURRENCY = 8;
/** On close, in-flight deliveries get this long; the rest are recovered by lease expiry. */
const CLOSE_GRACE_MS = 5_000;
/** Retry-After beyond a day is capped: the row would otherwise sit out its whole budget. */
const MAX_RETRY_AFTER_MS = 86_400_000;

type Attempt =
  | { ok: true; httpStatus?: number }
  | { ok: false; retryable: boolean; error: string; httpStatus?: number; retryAfterMs?: number };

const DispatchTarget = z.object({
  type: z.string(),
  config: z.record(z.string(), z.unknown()).default({}),
  sessionId: z.string().nullable().default(null),
  sessionKey: z.string().nullable().default(null),
});
const WebhookConfig = z.looseObject({
  url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
  secret: z.string().min(1).optional(),
});

/** A failure that retrying cannot fix: these codes are 400s, not retryable (error-codes.ts). */
const permanent = (
  code: 'subscription_deleted' | 'dispatch_config_invalid' | 'dispatch_input_invalid',
  message: string,
) => new SwitchboardError(code, message);

/** A SwitchboardError retries as its code says (error-codes.ts); anything else is retried. */
function classify(error: unknown): Attempt {
  // The HTTP client's refusals carry their reason code (ssrf_refused, timeout, …) into the
  // attempt log and the dead letter: the code is what an operator greps for.
  const text = error instanceof Error ? error.message : String(error);
  const message = isPostFailure(error) ? `${error.code}: ${text}` : text;
  const retryable = error instanceof SwitchboardError ? error.retryable : true;
  return { ok: false, retryable, error: message.slice(0, 2_000) };
}

/** 2xx delivered; 408, 429 and 5xx retried (with Retry-After); any other status is final. */
function fromHttp(res: Awaited<ReturnType<PostWebhook>>): Attempt {
  if (res.status >= 200 && res.status < 300) return { ok: true, httpStatus: res.status };
  const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
  return {
    ok: false,
    retryable,
    httpStatus: res.status,
    error: `HTTP ${res.status}${res.body ? `: ${res.body.slice(0, 500)}` : ''}`,
    ...(res.retryAfterMs === undefined
      ? {}
      : { retryAfterMs: Math.min(res.retryAfterMs, MAX_RETRY_AFTER_MS) }),
  };
}

export class OutboxWorker {
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly timers: NodeJS.Timeout[] = [];
  private unsubscribe: (() => Promise<void>) | undefined;
  private noticeTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private closing: Promise<void> | undefined;

  private readonly claims = new CoalescedRun(
    () => this.claim(),
    (error) => this.deps.log.warn({ err: error }, 'outbox claim failed (retried in 1 s)'),
  );
  private constructor(private readonly deps: OutboxWorkerDeps) {}

  static async start(deps: OutboxWorkerDeps): Promise<OutboxWorker> {
    const worker = new OutboxWorker(deps);
    // Rows are written with task events (a task's end, a subscribed event): any notice may
    // mean new rows. Wakes are coalesced into one claim pass at a time.
    worker.unsubscribe = await deps.bus.subscribe(TASK_EVENTS_CHANNEL, () => worker.wakeSoon());
    await worker.recover();
    worker.timers.push(
      setInterval(() => worker.wake(), deps.pollMs ?? POLL_MS),
      setInterval(() => void worker.recover(), RECOVER_MS),
    );
    for (const t of worker.timers) t.unref();
    worker.wake();
    return worker;
  }

  /** Deliveries in flight on this gateway. */
  get running(): number {
    return this.inflight.size;
  }

  /**
   * A task event may mean a new row, but most (task:tool_use, task:created, …) do not: at 600
   * events/s a claim per notice was a query per event. Notices wake at most one claim per
   * NOTICE_COALESCE_MS, which is all the delay a result gets from it.
   */
  private wakeSoon(): void {
    if (this.noticeTimer || this.stopped) return;
    this.noticeTimer = setTimeout(() => {
      this.noticeTimer = undefined;
      this.wake();
    }, NOTICE_COALESCE_MS);
  }

  /** Claim now, or right after the claim pass that is running. */
  wake(): void {
    if (!this.stopped) this.claims.kick();
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.noticeTimer);
    await this.unsubscribe?.();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inflight.values()]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
  }

  private async recover(): Promise<void> {
    if (this.stopped) return;
    try {
      const rows = await recoverOutboxLeases(this.deps.sql, {}, this.deps.publish);
      if (rows.length === 0) return;
      this.deps.log.warn({ rows: rows.length }, 'expired outbox leases recovered');
      this.wake();
    } catch (error) {
      this.deps.log.warn({ err: error }, 'outbox lease recovery failed (retried in 5 s)');
    }
  }

  private async claim(): Promise<void> {
    const room = (this.deps.concurrency ?? DEFAULT_CONCURRENCY) - this.inflight.size;
    if (this.stopped || room <= 0) return;
    const rows = await claimOutboxRows(this.deps.sql, {
      leaseMs: this.deps.leaseMs ?? OUTBOX_LEASE_MS,
      limit: room,
    });
    for (const row of rows) {
      const job = this.deliver(row)
        .catch((error) =>
          this.deps.log.error({ err: error, outboxId: row.id }, 'outbox delivery failed'),
        )
        .finally(() => {
          this.inflight.delete(row.id);
          this.wake();
        });
      this.inflight.set(row.id, job);
    }
  }

  private async deliver(row: LeasedOutboxRow): Promise<void> {
    const log = this.deps.log.child({ outboxId: row.id, kind: row.kind, taskId: row.taskId });
    let attempt: Attempt;
    try {
      attempt = await this.attempt(row);
    } catch (error) {
      attempt = classify(error);
    }
    const settlement: Settlement = attempt.ok
      ? {
          delivered: true,
          retryable: false,
          delayMs: 0,
          httpStatus: attempt.httpStatus ?? null,
          error: null,
        }
      : {
          delivered: false,
          retryable: attempt.retryable,
          // The row's next attempt is attempts + 1; its wait is that attempt's schedule entry.
          delayMs: retryDelayMs(row.attempts + 1, {
            ...(this.deps.backoff ? { schedule: this.deps.backoff } : {}),
            ...(attempt.retryAfterMs === undefined ? {} : { retryAfterMs: attempt.retryAfterMs }),
          }),
          httpStatus: attempt.httpStatus ?? null,
          error: attempt.error,
        };
    const result = await settleAttempt(
      this.deps.sql,
      { id: row.id, token: row.leaseToken },
      settlement,
      this.deps.publish,
    );
    if (result.outcome === 'lease_lost') {
      log.warn('outbox lease lost before the attempt could be recorded');
    } else if (result.row.status === 'dead') {
      log.warn({ error: settlement.error, attempts: result.row.attempts }, 'outbox entry dead');
    } else if (result.row.status === 'pending') {
      log.info({ error: settlement.error, attempt: result.row.attempts }, 'outbox retry scheduled');
    }
  }

  private async attempt(row: LeasedOutboxRow): Promise<Attempt> {
    const messageId = `outbox_${row.id}`;
    if (row.kind === 'event') {
      const id = String(row.target.subscriptionId ?? '');
      const endpoint = await subscriptionEndpoint(this.deps.sql, this.deps.masterKey, id);
      if (!endpoint) throw permanent('subscription_deleted', `subscription ${id} was deleted`);
      const body = JSON.stringify(row.payload);
      return fromHttp(await this.deps.postWebhook({ ...endpoint, body, messageId }));
    }
    const target = DispatchTarget.parse(row.target);
    const task = (row.payload as { task: DispatchedTask }).task;
    switch (target.type) {
      case 'webhook': {
        const config = WebhookConfig.safeParse(target.config);
        if (!config.success) {
          throw permanent(
            'dispatch_config_invalid',
            'webhook dispatch: config.url: expected an http(s) URL',
          );
        }
        const session =
          target.sessionId === null ? null : { id: target.sessionId, key: target.sessionKey };
        const body = JSON.stringify({ type: 'task:dispatch', task, session });
        const { url, secret } = config.data;
        return fromHttp(
          await this.deps.postWebhook({ url, body, messageId, ...(secret ? { secret } : {}) }),
        );
      }
      case 'internal':
        await deliverInternal(this.deps, row, target, task);
        return { ok: true };
      default:
        return this.deliverToIntegration(target, task);
    }
  }

  /** A manifest dispatcher: the integration that declares the type, its handler tool. */
  private async deliverToIntegration(
    target: z.output<typeof DispatchTarget>,
    task: DispatchedTask,
  ): Promise<Attempt> {
    const owner = this.deps.registry
      .list()
      .find((i) => i.manifest?.dispatchers.some((d) => d.type === target.type));
    const dispatcher = owner?.manifest?.dispatchers.find((d) => d.type === target.type);
    if (!owner || !dispatcher) {
      // Retried: a reload may bring the integration that declares it.
      return {
        ok: false,
        retryable: true,
        error: `no integration declares dispatcher type ${target.type}`,
      };
    }
    const input = dispatcherInputSchema.safeParse({
      task,
      session: { id: target.sessionId, key: target.sessionKey },
      dispatch: { type: target.type, config: target.config },
    });
    if (!input.success) {
      throw permanent(
        'dispatch_input_invalid',
        `dispatcher ${target.type}: ${input.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    }
    await callHandler(this.deps.registry, owner.name, dispatcher.handler, input.data, {
      timeoutMs: HANDLER_TIMEOUT_MS,
    });
    return { ok: true };
  }
}
