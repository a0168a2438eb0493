import * as z from 'zod';
import type { EventBus } from '../db/bus.ts';
import type { Pool } from '../db/connect.ts';
import { SwitchboardError } from '../errors.ts';
import { type PublishTaskEvents, TASK_EVENTS_CHANNEL } from '../events/task-events.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import type { Logger } from '../log.ts';
import type { RetrySchedule } from '../queue/backoff.ts';
import { type LeasedQueue, QueueWorker } from '../queue/worker.ts';
import { inSpan, SpanKind } from '../telemetry/spans.ts';
import {
  type Attempt,
  announceToIntegration,
  DispatchTarget,
  deliverToIntegration,
  permanent,
} from './dispatchers.ts';
import { claimOutboxRows, recoverOutboxLeases, settleAttempt } from './entries.ts';
import { isPostFailure } from './errors.ts';
import { deliverToHook } from './hooks.ts';
import { type DispatchedTask, deliverInternal } from './internal.ts';
import { WEBHOOK_SECRET_EXPECTED, webhookSecretProblem } from './sign.ts';
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

/** What the gateway's SSRF-guarded HTTP client does (outbox/http-post.ts); tests inject one. */
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
  /** Waits after failed attempts 1, 2, …, in ms (OUTBOX_RETRY_SCHEDULE_MS); tests shorten it. */
  retryScheduleMs?: RetrySchedule;
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
/**
 * Waits after failed attempts 1…9, jittered ±20 % (queue/backoff.ts): the first attempt is
 * immediate, then 5 s, 30 s, 2 m, 10 m, 30 m, 1 h, 2 h, 4 h, 8 h — about 16 h from the first
 * failure to the 10th attempt, in the spirit of the Standard Webhooks producer schedule
 * (REFERENCES §E, ~75 h over 10 attempts) but shorter, because a task result that arrives a day
 * late is rarely still wanted.
 */
export const OUTBOX_RETRY_SCHEDULE_MS: RetrySchedule = [
  5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000,
];
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

const WebhookConfig = z.looseObject({
  url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
  // Checked here, not by the first signature: a secret the signer cannot decode failed every
  // attempt for ~16 h with "Base64Coder: incorrect characters for decoding".
  secret: z
    .string()
    .min(1)
    .refine((secret) => webhookSecretProblem(secret) === undefined, WEBHOOK_SECRET_EXPECTED)
    .optional(),
});

/** A built-in webhook target's config, or the permanent failure naming its bad field. */
function webhookConfig(config: Record<string, unknown>): z.output<typeof WebhookConfig> {
  const parsed = WebhookConfig.safeParse(config);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw permanent(
    'dispatch_config_invalid',
    `webhook dispatch: config.${issue.path.join('.')}: ${issue.message}`,
  );
}

type Failed = Extract<Attempt, { ok: false }>;

/** A SwitchboardError retries as its code says (error-codes.ts); anything else is retried. */
function classify(error: unknown): Failed {
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

/** An attempt that did not deliver, thrown to the queue's fail (the backoff reads it). */
class AttemptFailed extends Error {
  constructor(readonly attempt: Failed) {
    super(attempt.error);
  }
}

const failureOf = (error: unknown): Failed =>
  error instanceof AttemptFailed ? error.attempt : classify(error);

export class OutboxWorker {
  private worker!: QueueWorker<LeasedOutboxRow>;

  private constructor(private readonly deps: OutboxWorkerDeps) {}

  static async start(deps: OutboxWorkerDeps): Promise<OutboxWorker> {
    const worker = new OutboxWorker(deps);
    worker.worker = await QueueWorker.start(worker.queue());
    return worker;
  }

  /** Deliveries in flight on this gateway. */
  get running(): number {
    return this.worker.running;
  }

  /** Claim now, or right after the claim pass that is running. */
  wake(): void {
    this.worker.wake();
  }

  close(): Promise<void> {
    return this.worker.close();
  }

  /** What the outbox supplies to the shared worker loop (queue/worker.ts). */
  private queue(): LeasedQueue<LeasedOutboxRow> {
    const { deps } = this;
    const slot = { key: '', limit: deps.concurrency ?? DEFAULT_CONCURRENCY };
    const schedule = deps.retryScheduleMs ?? OUTBOX_RETRY_SCHEDULE_MS;
    return {
      name: 'outbox',
      log: deps.log,
      idField: 'outboxId',
      id: (row) => row.id,
      pollMs: deps.pollMs ?? POLL_MS,
      recoverMs: RECOVER_MS,
      slots: () => [slot],
      claim: (_slot, limit) =>
        claimOutboxRows(deps.sql, { leaseMs: deps.leaseMs ?? OUTBOX_LEASE_MS, limit }),
      // A span per attempt, continuing the trace that queued the row (a task's end), so a
      // dispatch retried an hour later on another replica is still in the event's trace.
      handle: (row) =>
        inSpan(
          row.kind === 'dispatch'
            ? 'dispatch attempt'
            : row.target.type === 'hook'
              ? 'hook call'
              : 'subscription post',
          {
            kind: SpanKind.PRODUCER,
            parent: row.traceParent,
            attributes: {
              'switchboard.outbox.id': row.id,
              'switchboard.outbox.kind': row.kind,
              'switchboard.attempt': row.attempts,
              ...(typeof row.target.type === 'string' && {
                'switchboard.dispatch.type': row.target.type.slice(0, 64),
              }),
              ...(row.taskId !== null && { 'switchboard.task.id': row.taskId }),
            },
          },
          () => this.handle(row),
        ),
      fail: async (row, error, retryInMs) => {
        const attempt = failureOf(error);
        await this.settle(row, {
          delivered: false,
          retryable: retryInMs !== null,
          delayMs: retryInMs ?? 0,
          httpStatus: attempt.httpStatus ?? null,
          error: attempt.error,
        });
      },
      retry: {
        schedule: () => schedule,
        attempt: (row) => row.attempts,
        classify: (error) => {
          const attempt = failureOf(error);
          return { retryable: attempt.retryable, retryAfterMs: attempt.retryAfterMs };
        },
      },
      recover: async () => {
        const rows = await recoverOutboxLeases(deps.sql, {}, deps.publish);
        if (rows.length > 0)
          deps.log.warn({ rows: rows.length }, 'expired outbox leases recovered');
        return rows.length;
      },
      // Rows are written with task events (a task's end, a subscribed event): any notice may
      // mean new rows, but most (task:tool_use, task:created, …) do not: at 600 events/s a
      // claim per notice was a query per event. Notices wake at most one claim per
      // NOTICE_COALESCE_MS, which is all the delay a result gets from it.
      wakeOn: { bus: deps.bus, channel: TASK_EVENTS_CHANNEL, coalesceMs: NOTICE_COALESCE_MS },
      drainMs: CLOSE_GRACE_MS,
    };
  }

  /** One attempt at a claimed row; a failed one throws AttemptFailed for the queue's retry. */
  private async handle(row: LeasedOutboxRow): Promise<void> {
    const { deps } = this;
    let attempt: Attempt;
    try {
      attempt = await this.attempt(row);
    } catch (error) {
      attempt = classify(error);
    }
    if (!attempt.ok) throw new AttemptFailed(attempt);
    const delivered: Settlement = {
      delivered: true,
      retryable: false,
      delayMs: 0,
      httpStatus: attempt.httpStatus ?? null,
      error: null,
    };
    // Not a failed attempt: the row stays leased until recovery takes it back.
    await this.settle(row, delivered).catch((error) =>
      deps.log.error({ err: error, outboxId: row.id }, 'outbox delivery failed'),
    );
  }

  /** Records the attempt under the row's lease (an error here: the lease expires, recovery). */
  private async settle(row: LeasedOutboxRow, settlement: Settlement): Promise<void> {
    const log = this.deps.log.child({ outboxId: row.id, kind: row.kind, taskId: row.taskId });
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
    if (row.kind === 'event' && row.target.type === 'hook') {
      return deliverToHook(this.deps.registry, row.target, row.payload);
    }
    if (row.kind === 'event') {
      const id = String(row.target.subscriptionId ?? '');
      const endpoint = await subscriptionEndpoint(this.deps.sql, this.deps.masterKey, id);
      if (!endpoint) throw permanent('subscription_deleted', `subscription ${id} was deleted`);
      const body = JSON.stringify(row.payload);
      return fromHttp(await this.deps.postWebhook({ ...endpoint, body, messageId }));
    }
    const target = DispatchTarget.parse(row.target);
    const approval = (row.payload as { approval?: Record<string, unknown> }).approval;
    if (approval !== undefined) return this.announceApproval(target, approval, messageId);
    const task = (row.payload as { task: DispatchedTask }).task;
    switch (target.type) {
      case 'webhook': {
        const { url, secret } = webhookConfig(target.config);
        const session =
          target.sessionId === null ? null : { id: target.sessionId, key: target.sessionKey };
        const body = JSON.stringify({ type: 'task:dispatch', task, session });
        return fromHttp(
          await this.deps.postWebhook({ url, body, messageId, ...(secret ? { secret } : {}) }),
        );
      }
      case 'internal':
        await deliverInternal(
          { ...this.deps, policy: this.deps.registry.currentPolicy() },
          row,
          target,
          task,
        );
        return { ok: true };
      default:
        return deliverToIntegration(this.deps.registry, target, task);
    }
  }

  /**
   * An approval request told to the task's session (approvals/requests.ts writes the row only
   * for the types that announce): a built-in webhook gets `{type: "approval:requested"}`, a
   * manifest dispatcher its `approvals` handler. Deciding is not theirs: it takes an operator key.
   */
  private async announceApproval(
    target: DispatchTarget,
    approval: Record<string, unknown>,
    messageId: string,
  ): Promise<Attempt> {
    const session =
      target.sessionId === null ? null : { id: target.sessionId, key: target.sessionKey };
    if (target.type === 'webhook') {
      const { url, secret } = webhookConfig(target.config);
      const body = JSON.stringify({ type: 'approval:requested', approval, session });
      return fromHttp(
        await this.deps.postWebhook({ url, body, messageId, ...(secret ? { secret } : {}) }),
      );
    }
    return announceToIntegration(this.deps.registry, target, approval);
  }
}
