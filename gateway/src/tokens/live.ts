import type { LiveTokenState } from './store.ts';

/** One record the database confirmed live (not revoked, task running) at `checkedAt`. */
interface Entry {
  state: LiveTokenState;
  /** Date.now() when the read that confirmed it started. */
  checkedAt: number;
}

export interface LiveTokenLimits {
  /**
   * At most this many records (≈ 0.5 KB each: 50,000 ≈ 25 MB). Past it the oldest loaded is
   * dropped: its token is then checked against the database again, never accepted unchecked.
   */
  maxEntries: number;
  /**
   * A record is used only this long after the database last confirmed it. The sync confirms every
   * record every 5 s; should it fail (database down) the records lapse and verification goes
   * back to the database, which fails closed.
   */
  trustMs: number;
}

export const LIVE_TOKEN_LIMITS: LiveTokenLimits = { maxEntries: 50_000, trustMs: 30_000 };

/**
 * The records of live tokens, held in memory so that verifying a token this process has not
 * verified yet is a signature check and a map lookup, not a database read (issue 20: ~1–2 ms a
 * read, 400–600 cold verifications/s). Only the database fills it (reads of live records);
 * revocation empties it (here at once, in other processes by the bus, and by the periodic sync
 * for a lost message); a token it does not hold is checked against the database as before.
 */
export class LiveTokens {
  private readonly entries = new Map<string, Entry>();
  private readonly byTask = new Map<string, Set<string>>();
  /** Bumped by every revocation: a read that started before one must not be stored. */
  private generation = 0;

  constructor(private readonly limits: LiveTokenLimits = LIVE_TOKEN_LIMITS) {}

  /** The record of a live token, if the database confirmed it within trustMs and it has not expired. */
  get(jti: string, now = Date.now()): LiveTokenState | undefined {
    const entry = this.entries.get(jti);
    if (!entry) return undefined;
    if (entry.checkedAt + this.limits.trustMs <= now || entry.state.expiresAt.getTime() <= now) {
      this.delete(jti);
      return undefined;
    }
    return entry.state;
  }

  /** The generation to pass to `set`/`confirm`, read before the database read starts. */
  currentGeneration(): number {
    return this.generation;
  }

  /** Stores a record read live from the database, unless a revocation came since the read began. */
  set(state: LiveTokenState, checkedAt: number, generation: number): void {
    if (generation !== this.generation || this.limits.maxEntries <= 0) return;
    this.delete(state.jti);
    if (this.entries.size >= this.limits.maxEntries) {
      // Maps iterate in insertion order: drop the record loaded first.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.delete(oldest);
    }
    this.entries.set(state.jti, { state, checkedAt });
    const tokens = this.byTask.get(state.taskId) ?? new Set<string>();
    tokens.add(state.jti);
    this.byTask.set(state.taskId, tokens);
  }

  /**
   * The sync's answer for `asked`: those in `live` are confirmed as of `checkedAt`, the others
   * (revoked, task ended, deleted, expired) are dropped.
   */
  confirm(asked: readonly string[], live: ReadonlySet<string>, checkedAt: number): void {
    for (const jti of asked) {
      const entry = this.entries.get(jti);
      if (!entry) continue;
      if (live.has(jti)) entry.checkedAt = Math.max(entry.checkedAt, checkedAt);
      else this.delete(jti);
    }
  }

  /** Forget every record of these tasks, token ids or signing keys. */
  revoke(
    taskIds: readonly string[],
    tokenIds: readonly string[],
    kids: readonly string[] = [],
  ): void {
    this.generation += 1;
    for (const taskId of taskIds) {
      for (const jti of this.byTask.get(taskId) ?? []) this.delete(jti);
    }
    for (const jti of tokenIds) this.delete(jti);
    if (kids.length > 0) {
      for (const [jti, { state }] of this.entries) if (kids.includes(state.kid)) this.delete(jti);
    }
  }

  jtis(): string[] {
    return [...this.entries.keys()];
  }

  get size(): number {
    return this.entries.size;
  }

  private delete(jti: string): void {
    const entry = this.entries.get(jti);
    if (!entry) return;
    this.entries.delete(jti);
    const tokens = this.byTask.get(entry.state.taskId);
    tokens?.delete(jti);
    if (tokens?.size === 0) this.byTask.delete(entry.state.taskId);
  }
}
