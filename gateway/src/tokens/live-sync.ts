import * as z from 'zod';
import type { EventBus } from '../db/bus.ts';
import type { Pool } from '../db/connect.ts';
import type { Logger } from '../log.ts';
import { LIVE_TOKEN_LIMITS, type LiveTokenLimits, LiveTokens } from './live.ts';
import {
  type LiveTokenState,
  liveTokenStates,
  newestLiveTokenStates,
  type TokenState,
  tokenState,
} from './store.ts';

/** Every minted token's jti, sent by pg_notify when its transaction commits (store.ts insertToken). */
export const MINT_CHANNEL = 'switchboard_token_mints';
/**
 * Every record held is re-read this often: a revocation whose bus message was lost (a listener
 * reconnecting, a NOTIFY sent by a process that died) is honoured within this, plus the read.
 */
export const LIVE_TOKEN_SYNC_MS = 5_000;
/** jtis per read: the records' primary key, 5,000 at a time (a 50,000-record sync is 10 reads). */
const SYNC_CHUNK = 5_000;
/** jtis waiting to be loaded; past this, announcements are dropped (loading is only a head start). */
const MAX_PENDING = 10_000;

const Jti = z.uuid();

/**
 * Keeps LiveTokens filled and current from the database: the newest live records when the
 * process starts, every minted token when its transaction commits (MINT_CHANNEL on PostgreSQL;
 * on the embedded database, whose single connection the minting transaction holds, a load queued
 * at mint runs after it), each record read by a verification, and every LIVE_TOKEN_SYNC_MS a
 * re-read of all of them that drops those no longer live.
 */
export class LiveTokenRecords {
  private readonly live: LiveTokens;
  private readonly pending = new Set<string>();
  private flushing: Promise<void> | undefined;
  private syncing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => Promise<void>) | undefined;

  constructor(
    private readonly sql: Pool,
    private readonly log: Logger,
    private readonly limits: LiveTokenLimits = LIVE_TOKEN_LIMITS,
  ) {
    this.live = new LiveTokens(limits);
  }

  async start(bus: EventBus): Promise<void> {
    this.unsubscribe = await bus.subscribe(MINT_CHANNEL, (payload) => this.announced(payload));
    const generation = this.live.currentGeneration();
    const started = Date.now();
    for (const state of await newestLiveTokenStates(this.sql, this.limits.maxEntries)) {
      this.live.set(state, started, generation);
    }
    this.timer = setInterval(() => void this.sync(), LIVE_TOKEN_SYNC_MS);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.unsubscribe?.();
    await Promise.allSettled([this.flushing, this.syncing]);
  }

  /** The record of a live token held here, if any (see LiveTokens.get). */
  get(jti: string): LiveTokenState | undefined {
    return this.live.get(jti);
  }

  /** The database's record of a token; kept here if live (and no revocation came meanwhile). */
  async read(jti: string): Promise<TokenState | undefined> {
    const generation = this.live.currentGeneration();
    const started = Date.now();
    const state = await tokenState(this.sql, jti);
    if (state && !state.revoked && state.taskStatus === 'running') {
      const { revoked: _r, taskStatus: _s, ...record } = state;
      this.live.set({ ...record, jti }, started, generation);
    }
    return state;
  }

  revoke(taskIds: readonly string[], tokenIds: readonly string[], kids: readonly string[]): void {
    this.live.revoke(taskIds, tokenIds, kids);
  }

  /** A token minted by this process: load its record once its transaction has committed. */
  minted(jti: string): void {
    this.queue(jti);
  }

  /** Loads what is queued; resolves once done (the benchmark and tests wait on it). */
  async loaded(): Promise<void> {
    while (this.flushing || this.pending.size > 0) await (this.flushing ?? this.flush());
  }

  /** Re-reads every record held; drops those no longer live. One at a time. */
  sync(): Promise<void> {
    this.syncing ??= this.resync().finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  get size(): number {
    return this.live.size;
  }

  private async resync(): Promise<void> {
    const jtis = this.live.jtis();
    try {
      for (let i = 0; i < jtis.length; i += SYNC_CHUNK) {
        const asked = jtis.slice(i, i + SYNC_CHUNK);
        const started = Date.now();
        const rows = await liveTokenStates(this.sql, asked);
        this.live.confirm(asked, new Set(rows.map((r) => r.jti)), started);
      }
    } catch (error) {
      // The records lapse after trustMs unconfirmed: verification then reads the database.
      this.log.warn({ err: error }, 'could not re-read the live token records');
    }
  }

  private announced(payload: string): void {
    if (Jti.safeParse(payload).success) this.queue(payload);
  }

  private queue(jti: string): void {
    if (this.pending.size >= MAX_PENDING) return;
    this.pending.add(jti);
    if (!this.flushing) setImmediate(() => void this.flush());
  }

  private flush(): Promise<void> {
    this.flushing ??= this.loadPending().finally(() => {
      this.flushing = undefined;
      if (this.pending.size > 0) void this.flush();
    });
    return this.flushing;
  }

  private async loadPending(): Promise<void> {
    const jtis = [...this.pending].slice(0, SYNC_CHUNK);
    for (const jti of jtis) this.pending.delete(jti);
    if (jtis.length === 0) return;
    const generation = this.live.currentGeneration();
    const started = Date.now();
    try {
      for (const state of await liveTokenStates(this.sql, jtis)) {
        this.live.set(state, started, generation);
      }
    } catch (error) {
      this.log.warn({ err: error }, 'could not load minted token records');
    }
  }
}
