import { EventEmitter } from 'node:events';
import type { Logger } from '../log.ts';
import type { Pool } from './connect.ts';

/**
 * Messages between gateway processes on one database (revocations, task events). On a real
 * Postgres they travel by LISTEN/NOTIFY, so every replica hears them (typically within tens of
 * milliseconds). The embedded PGlite admits one process, and postgres.js's `listen` needs a second
 * connection that pglite-socket cannot serve (ARCHITECTURE §7), so there the bus is in-process.
 * Publish only after the transaction that made the change has committed.
 */
export interface EventBus {
  publish(channel: string, payload: string): Promise<void>;
  /** Resolves once the subscription is live; the returned function ends it. */
  subscribe(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>>;
}

export class InProcessBus implements EventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  async publish(channel: string, payload: string): Promise<void> {
    this.emitter.emit(channel, payload);
  }

  async subscribe(channel: string, handler: (payload: string) => void) {
    this.emitter.on(channel, handler);
    return async () => void this.emitter.off(channel, handler);
  }
}

/** NOTIFY payloads are limited to 8000 bytes by Postgres; callers send ids, not documents. */
export const MAX_NOTIFY_BYTES = 8000;

export class PostgresBus implements EventBus {
  constructor(
    private readonly sql: Pool,
    private readonly log: Logger,
  ) {}

  async publish(channel: string, payload: string): Promise<void> {
    if (Buffer.byteLength(payload) > MAX_NOTIFY_BYTES) {
      throw new RangeError(`event payload over ${MAX_NOTIFY_BYTES} bytes on ${channel}`);
    }
    await this.sql.notify(channel, payload);
  }

  async subscribe(channel: string, handler: (payload: string) => void) {
    const { unlisten } = await this.sql.listen(
      channel,
      (payload) => {
        try {
          handler(payload);
        } catch (error) {
          this.log.error({ channel, err: error }, 'event handler failed');
        }
      },
      () => this.log.debug({ channel }, 'listening'),
    );
    return unlisten;
  }
}
