import type { ProxyContext } from './admit.ts';
import type { Refusal } from './refusal.ts';
import type { EgressOutcome, EgressReason, EgressRecord } from './types.ts';

/**
 * One audited connection (a tunnel or a forwarded request): its byte counts and caps, its
 * timers, and the single record written when it ends. Whatever ends it first (a side closing, a
 * cap, an error, the proxy closing) calls `finish`; later calls do nothing, so the record is
 * written exactly once and the slot released exactly once.
 */

export type Direction = 'up' | 'down';

export interface MeterStart {
  integration: string | undefined;
  taskId: string | undefined;
  kind: EgressRecord['kind'];
  host: string;
  port: number;
  startedAt: Date;
}

export class Meter {
  bytesUp = 0;
  bytesDown = 0;
  address: string | undefined;
  mtls = false;
  #done = false;
  /** Set when a chunk went over maxBytes: the connection ends with limit_reached, whatever ends it. */
  #capped = false;
  #idle: NodeJS.Timeout | undefined;
  #total: NodeJS.Timeout | undefined;
  readonly #onFinish: Array<() => void> = [];

  constructor(
    private readonly ctx: Pick<ProxyContext, 'record' | 'log' | 'limits'>,
    readonly start: MeterStart,
    /** Called once when a cap ends the connection, with the words of the cap. */
    private readonly onLimit: (what: string) => void,
  ) {}

  get done(): boolean {
    return this.#done;
  }

  /** A byte cap was hit: the end of the stream in flight is not a clean end. */
  get capped(): boolean {
    return this.#capped;
  }

  /** Starts the duration and idle caps (when the connection is allowed, before any byte). */
  arm(): void {
    const { maxDurationMs, idleTimeoutMs } = this.ctx.limits;
    this.#total = setTimeout(
      () =>
        this.#limit(
          `the connection lasted ${maxDurationMs} ms, the limit (SWITCHBOARD_EGRESS_MAX_DURATION_MS)`,
        ),
      maxDurationMs,
    );
    this.#idle = setTimeout(
      () =>
        this.#limit(
          `no byte either way for ${idleTimeoutMs} ms (SWITCHBOARD_EGRESS_IDLE_TIMEOUT_MS)`,
        ),
      idleTimeoutMs,
    );
    this.#total.unref();
    this.#idle.unref();
  }

  /**
   * Counts a chunk and returns the part that may pass: all of it, or the bytes up to maxBytes
   * (the rest is dropped and the connection ends with limit_reached).
   */
  pass(direction: Direction, chunk: Buffer): Buffer {
    if (this.#done) return chunk.subarray(0, 0);
    this.#idle?.refresh();
    const { maxBytes } = this.ctx.limits;
    const sent = direction === 'up' ? this.bytesUp : this.bytesDown;
    const room = Math.max(0, maxBytes - sent);
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
    if (direction === 'up') this.bytesUp += part.length;
    else this.bytesDown += part.length;
    if (chunk.length > room && !this.#capped) {
      this.#capped = true;
      const way = direction === 'up' ? 'to the upstream' : 'from the upstream';
      setImmediate(() =>
        this.#limit(`over ${maxBytes} bytes ${way} (SWITCHBOARD_EGRESS_MAX_BYTES)`),
      );
    }
    return part;
  }

  /** Runs when the connection finishes (sockets to destroy, the slot to release). */
  onFinish(callback: () => void): void {
    if (this.#done) callback();
    else this.#onFinish.push(callback);
  }

  #limit(what: string): void {
    if (this.#done) return;
    try {
      this.onLimit(what);
    } catch (error) {
      this.ctx.log.warn({ err: error }, 'egress limit handler failed');
    }
    this.finish('allowed', 'limit_reached');
  }

  /**
   * Ends the connection with a refusal: logged at debug (the line has no rate bound, while every
   * refusal is counted in the metrics and stored in the egress log, ≤ 200 rows a second per
   * integration), answered by `answer`, recorded once.
   */
  refuse(refusal: Refusal, answer: (refusal: Refusal) => void): void {
    this.ctx.log.debug(
      {
        integration: this.start.integration,
        host: this.start.host,
        port: this.start.port,
        reason: refusal.reason,
      },
      refusal.message,
    );
    answer(refusal);
    this.finish(refusal.outcome, refusal.reason);
  }

  finish(outcome: EgressOutcome, reason: EgressReason | undefined): void {
    if (this.#done) return;
    if (this.#capped && outcome === 'allowed' && reason === undefined) reason = 'limit_reached';
    this.#done = true;
    clearTimeout(this.#idle);
    clearTimeout(this.#total);
    for (const callback of this.#onFinish.splice(0)) {
      try {
        callback();
      } catch (error) {
        this.ctx.log.warn({ err: error }, 'egress cleanup failed');
      }
    }
    const entry: EgressRecord = {
      ...this.start,
      address: this.address,
      outcome,
      reason,
      bytesUp: this.bytesUp,
      bytesDown: this.bytesDown,
      durationMs: Date.now() - this.start.startedAt.getTime(),
      mtls: this.mtls,
    };
    try {
      this.ctx.record(entry);
    } catch (error) {
      this.ctx.log.error(
        { err: error, host: entry.host, integration: entry.integration },
        'egress audit record failed',
      );
    }
  }
}
