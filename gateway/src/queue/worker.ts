import type { EventBus } from '../db/bus.ts';
import type { Logger } from '../log.ts';
import { type RetrySchedule, retryDelayMs } from './backoff.ts';
import { CoalescedRun } from './coalesced-run.ts';

/**
 * The one worker loop of the leased queues (webhook deliveries, tasks, the outbox), in the
 * manner of graphile-worker around getJob / completeJob / failJob / resetLockedAt. It owns
 * start/stop with a drain, the poll timer and wake-ups (a bus channel, a caller's wake()), the
 * concurrency limit of each key, lease renewal, the periodic recovery of expired leases and the
 * backoff of a failed job. A queue supplies only what is its own (LeasedQueue): the claim,
 * recover and fail SQL (in its store, `FOR UPDATE SKIP LOCKED`, every end checking the lease),
 * its handler and its retry schedule. Delivery is at least once: a job whose worker died comes
 * back when its lease expires, and each queue's idempotency keeps a second pass harmless.
 */

/** Where jobs may run, and how many of them at once on this gateway. */
export interface Slot {
  /** One per concurrency limit ('' for a queue with one limit; a profile name for tasks). */
  readonly key: string;
  /** Read before every claim: a getter may change it (the delivery burst rule). */
  readonly limit: number;
}

/** How a failed job is retried: its schedule, its attempt, and which errors are final. */
export interface RetryRule<J> {
  schedule(job: J): RetrySchedule;
  /** The job's attempt, 1-based (the claim counted it). */
  attempt(job: J): number;
  /** Default: every error is retried (max_attempts in the queue's SQL ends it). */
  classify?(error: unknown): { retryable: boolean; retryAfterMs?: number | undefined };
}

export interface LeasedQueue<J, S extends Slot = Slot> {
  /** 'delivery', 'task', 'outbox': in log lines. */
  name: string;
  log: Logger;
  /** The log field a job's id goes in (taskId, outboxId, delivery). */
  idField: string;
  id(job: J): string;
  /** Due rows of other replicas (and retries whose time came) are found by this poll. */
  pollMs: number;
  /** Expired leases of dead workers are taken back this often, and once at start. */
  recoverMs: number;
  /** Behind a backlog, with jobs in flight, claim only once this many slots are free. */
  claimChunk?: number;
  /** The keys to claim for, each with its limit, in the order a pass visits them. */
  slots(): Iterable<S>;
  /** Leases up to `limit` due jobs of `slot`; [] when none (or the slot cannot run now). */
  claim(slot: S, limit: number): Promise<J[]>;
  /** Runs a claimed job and ends it under its lease; a throw goes to `fail`. */
  handle(job: J): Promise<void>;
  /** Ends a job whose handler threw: pending again after `retryInMs`, or failed when null. */
  fail(job: J, error: unknown, retryInMs: number | null): Promise<void>;
  retry: RetryRule<J>;
  /** Takes back expired leases (safe on every replica); how many it took. */
  recover(): Promise<number>;
  /** Extends a running job's lease every `everyMs` (a queue whose jobs outlive the lease). */
  renew?: { everyMs: number; lease(job: J): Promise<void> };
  /** Notices that may mean new rows: `accept` filters, `coalesceMs` folds bursts into one claim. */
  wakeOn?: {
    bus: EventBus;
    channel: string;
    accept?(payload: string): boolean;
    coalesceMs?: number;
  };
  /** Called on close for each job in flight (tasks stop their agent at once). */
  stopJob?(job: J): void;
  /** On close, jobs in flight get this long (the rest come back by lease expiry); default: all. */
  drainMs?: number;
}

interface Running<J> {
  job: J;
  done: Promise<void>;
}

export class QueueWorker<J, S extends Slot = Slot> {
  private readonly inFlight = new Set<Running<J>>();
  /**
   * The newest run of each id. A job whose lease expired while it still ran here (a database
   * outage longer than the lease) may be claimed again, here too: both runs are in flight.
   */
  private readonly byId = new Map<string, Running<J>>();
  private readonly perKey = new Map<string, number>();
  /** Keys whose last claim of several found as many due rows as it asked for. */
  private readonly backlog = new Set<string>();
  private readonly timers: NodeJS.Timeout[] = [];
  private unsubscribe: (() => Promise<void>) | undefined;
  private noticeTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private closing: Promise<void> | undefined;
  private readonly claims: CoalescedRun;

  private constructor(private readonly queue: LeasedQueue<J, S>) {
    this.claims = new CoalescedRun(
      () => this.claimAll(),
      (error) =>
        queue.log.warn(
          { err: error },
          `${queue.name} claim failed (retried in ${queue.pollMs} ms)`,
        ),
    );
  }

  static async start<J, S extends Slot>(queue: LeasedQueue<J, S>): Promise<QueueWorker<J, S>> {
    const worker = new QueueWorker(queue);
    const on = queue.wakeOn;
    if (on) {
      worker.unsubscribe = await on.bus.subscribe(on.channel, (payload) => {
        if (!on.accept || on.accept(payload)) worker.wakeSoon();
      });
    }
    await worker.recover();
    worker.timers.push(
      setInterval(() => worker.wake(), queue.pollMs),
      setInterval(() => void worker.recover(), queue.recoverMs),
    );
    for (const t of worker.timers) t.unref();
    worker.wake();
    return worker;
  }

  /** Jobs in flight on this gateway. */
  get running(): number {
    return this.inFlight.size;
  }

  /** The job in flight with this id. */
  get(id: string): J | undefined {
    return this.byId.get(id)?.job;
  }

  /** Claim now, or right after the pass that is running (wakes are coalesced). */
  wake(): void {
    if (!this.stopped) this.claims.kick();
  }

  /**
   * Stops claiming, tells each job in flight (stopJob) and waits for them, at most drainMs:
   * their rows end, or stay leased until recovery takes them back.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.stopped = true;
    this.claims.stop();
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.noticeTimer);
    const running = [...this.inFlight];
    if (this.queue.stopJob) for (const r of running) this.queue.stopJob(r.job);
    await this.unsubscribe?.();
    const all = Promise.allSettled(running.map((r) => r.done));
    if (this.queue.drainMs === undefined) {
      await all;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      all,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.queue.drainMs);
      }),
    ]);
    clearTimeout(timer);
  }

  private wakeSoon(): void {
    const ms = this.queue.wakeOn?.coalesceMs;
    if (ms === undefined) {
      this.wake();
      return;
    }
    if (this.noticeTimer || this.stopped) return;
    this.noticeTimer = setTimeout(() => {
      this.noticeTimer = undefined;
      this.wake();
    }, ms);
  }

  private async recover(): Promise<void> {
    if (this.stopped) return;
    try {
      if ((await this.queue.recover()) > 0) this.wake();
    } catch (error) {
      this.queue.log.warn(
        { err: error },
        `${this.queue.name} lease recovery failed (retried in ${this.queue.recoverMs} ms)`,
      );
    }
  }

  private async claimAll(): Promise<void> {
    for (const slot of this.queue.slots()) {
      if (this.stopped) return;
      await this.fill(slot);
    }
  }

  private async fill(slot: S): Promise<void> {
    while (!this.stopped) {
      const limit = slot.limit;
      const running = this.perKey.get(slot.key) ?? 0;
      const free = limit - running;
      // Behind a backlog it claims in chunks: a claim walks the due index past the rows
      // processed since the last vacuum, so one claim of 8 (or 32) costs about what one of 1 does.
      // Without one, a free slot is taken at once (a slow job must not delay the next). No
      // query at all when the key is full: wakes arrive for every event of every task.
      const chunk =
        this.backlog.has(slot.key) && running > 0 ? Math.min(this.queue.claimChunk ?? 1, limit) : 1;
      if (free < chunk) return;
      const jobs = await this.queue.claim(slot, free);
      for (const job of jobs) this.begin(job, slot.key);
      // A claim of several that got all it asked for says more are waiting; one that got
      // fewer, that none are (a claim of 1 that got it says nothing either way).
      if (jobs.length < free) {
        this.backlog.delete(slot.key);
        return;
      }
      if (free > 1) this.backlog.add(slot.key);
    }
  }

  private begin(job: J, key: string): void {
    const id = this.queue.id(job);
    const renew = this.queue.renew;
    const beat =
      renew &&
      setInterval(
        () =>
          void renew.lease(job).catch((error) => {
            this.queue.log.warn(
              { err: error, [this.queue.idField]: id },
              `${this.queue.name} lease extension failed`,
            );
          }),
        renew.everyMs,
      );
    this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
    const running: Running<J> = { job, done: Promise.resolve() };
    running.done = this.execute(job, id).finally(() => {
      clearInterval(beat);
      this.inFlight.delete(running);
      if (this.byId.get(id) === running) this.byId.delete(id);
      this.perKey.set(key, (this.perKey.get(key) ?? 1) - 1);
      this.wake();
    });
    this.inFlight.add(running);
    this.byId.set(id, running);
  }

  private async execute(job: J, id: string): Promise<void> {
    try {
      await this.queue.handle(job);
      return;
    } catch (error) {
      const { retry } = this.queue;
      const failure = retry.classify?.(error) ?? { retryable: true };
      const retryInMs = failure.retryable
        ? retryDelayMs(retry.schedule(job), retry.attempt(job), {
            retryAfterMs: failure.retryAfterMs,
          })
        : null;
      try {
        await this.queue.fail(job, error, retryInMs);
      } catch (storeError) {
        // The lease expires and recovery retries it: nothing is lost, only delayed.
        this.queue.log.error(
          {
            err: storeError,
            cause: error instanceof Error ? error.message : String(error),
            [this.queue.idField]: id,
          },
          `could not record the ${this.queue.name} failure`,
        );
      }
    }
  }
}
