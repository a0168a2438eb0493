import type { Policy, Retention } from '@switchboard/policy';
import { deleteOldAudit } from '../audit/store.ts';
import type { Sql } from '../db/connect.ts';
import { deleteRefilledBuckets, RATE_BUCKET_REFILL_MS } from '../db/rate-buckets.ts';
import { deleteSettledDeliveries } from '../deliveries/store.ts';
import { deleteOldEgress } from '../egress/store.ts';
import { deleteEndedTaskEvents } from '../events/store.ts';
import { deleteExpiredEntries } from '../kv/store.ts';
import type { Logger } from '../log.ts';
import { deleteExpiredWaits } from '../mcp/client-reply-store.ts';
import { deleteExpiredHandshakes } from '../mcp/era-2025-store.ts';
import { deleteExpiredMcpTasks } from '../mcp-tasks/store.ts';

/**
 * The retention job (issue 12, L4): settled webhook deliveries, the events of ended tasks and
 * audit entries older than the policy's `retention:` ages are deleted, at start and then every
 * `retention.interval` (1h by default), so these tables stop growing with the gateway's age.
 * Expired key-value entries (issue 18, kv/) are deleted at every run whatever the ages say:
 * they are invisible from their expiry on, so keeping them serves nobody. So are MCP tasks past
 * their ttl (mcp-tasks/, issue 19), and 2025-era clients' handshakes and reply waits (migration
 * 0018) past their token's expiry, and the per-task rate-limit buckets (db/rate-buckets.ts)
 * untouched for a minute: refilled by then, a missing row means the same.
 * Every replica runs it; the deletes skip rows another replica is deleting (SKIP LOCKED), so
 * two runs at once share the work and neither fails.
 */

/** Rows per delete statement: each holds ~1000 row locks for milliseconds, never long. */
export const RETENTION_BATCH = 1_000;
/** Batches per kind and run (200,000 rows): a larger backlog goes on at the next run. */
export const RETENTION_MAX_BATCHES = 200;

export interface RetentionCounts {
  deliveries: number;
  taskEvents: number;
  audit: number;
  kv: number;
  mcpTasks: number;
  handshakes: number;
  replyWaits: number;
  rateBuckets: number;
  egress: number;
}

type Kind = keyof RetentionCounts;

const KINDS: ReadonlyArray<{
  kind: Kind;
  ageMs: (r: Retention) => number | null;
  remove: (sql: Sql, olderThanMs: number, limit: number) => Promise<number>;
}> = [
  { kind: 'deliveries', ageMs: (r) => r.deliveriesMs, remove: deleteSettledDeliveries },
  { kind: 'taskEvents', ageMs: (r) => r.taskEventsMs, remove: deleteEndedTaskEvents },
  { kind: 'audit', ageMs: (r) => r.auditMs, remove: deleteOldAudit },
  { kind: 'kv', ageMs: () => 0, remove: deleteExpiredEntries },
  // MCP tasks past their ttl (issue 19, mcp-tasks/): absent to every read from then on.
  {
    kind: 'mcpTasks',
    ageMs: () => 0,
    remove: (sql, _age, limit) => deleteExpiredMcpTasks(sql, limit),
  },
  { kind: 'handshakes', ageMs: () => 0, remove: deleteExpiredHandshakes },
  { kind: 'replyWaits', ageMs: () => 0, remove: deleteExpiredWaits },
  { kind: 'rateBuckets', ageMs: () => RATE_BUCKET_REFILL_MS, remove: deleteRefilledBuckets },
  // The egress proxy's connection log (issue 21): retention.egress, 30d by default.
  { kind: 'egress', ageMs: (r) => r.egressMs, remove: deleteOldEgress },
];

export interface RetentionOptions {
  log: Logger;
  batch?: number;
  maxBatches?: number;
  /** Checked between batches: a gateway shutting down stops after the statement in progress. */
  stopped?: () => boolean;
}

/**
 * One pass: each kind whose age is not `off`, in batches until one comes back short. A kind
 * that fails is logged and left to the next run; the others still run.
 */
export async function runRetention(
  sql: Sql,
  retention: Retention,
  options: RetentionOptions,
): Promise<RetentionCounts> {
  // One zero per kind, from KINDS itself: a kind added there is counted without a second list.
  const counts = {} as RetentionCounts;
  for (const { kind } of KINDS) counts[kind] = 0;
  const batch = options.batch ?? RETENTION_BATCH;
  const maxBatches = options.maxBatches ?? RETENTION_MAX_BATCHES;
  for (const { kind, ageMs, remove } of KINDS) {
    const age = ageMs(retention);
    if (age === null) continue;
    try {
      for (let n = 0; n < maxBatches && !options.stopped?.(); n++) {
        const deleted = await remove(sql, age, batch);
        counts[kind] += deleted;
        if (deleted < batch) break;
      }
    } catch (error) {
      options.log.warn({ err: error, kind }, 'retention: could not delete old rows; next run');
    }
  }
  return counts;
}

export interface RetentionJobDeps {
  sql: Sql;
  log: Logger;
  /** The policy now (undefined while it does not load: then nothing is deleted). */
  policy: () => Policy | undefined;
}

export class RetentionJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;

  private constructor(private readonly deps: RetentionJobDeps) {}

  /** Runs once right away (in the background), then every `retention.interval`. */
  static start(deps: RetentionJobDeps): RetentionJob {
    const job = new RetentionJob(deps);
    job.schedule(0);
    return job;
  }

  /** No run starts after this; one in progress stops after its current statement. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce().finally(() => {
        this.running = undefined;
        this.schedule(this.deps.policy()?.retention.intervalMs ?? 3_600_000);
      });
    }, ms);
    this.timer.unref();
  }

  private async runOnce(): Promise<void> {
    const policy = this.deps.policy();
    if (!policy) {
      this.deps.log.warn('retention: the policy does not load; nothing deleted this run');
      return;
    }
    const counts = await runRetention(this.deps.sql, policy.retention, {
      log: this.deps.log,
      stopped: () => this.closed,
    });
    const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
    this.deps.log[total > 0 ? 'info' : 'debug'](counts, 'retention: old rows deleted');
  }
}
