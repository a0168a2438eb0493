import { Counter, Gauge, type Registry } from 'prom-client';
import type { Pool } from '../db/connect.ts';
import { withStatementTimeout } from '../db/statement-timeout.ts';
import { countQueueDeliveries, type DeliveryQueueCounts } from '../deliveries/store.ts';
import type { IntegrationState } from '../integrations/registry.ts';
import type { Logger } from '../log.ts';
import { countOutboxRows, type OutboxCounts } from '../outbox/store.ts';
import { countQueueTasks, type TaskQueueCounts } from '../tasks/store.ts';

/**
 * The metrics computed when /metrics is scraped rather than counted as things happen: the
 * integrations' states (from the registry, in memory) and the three queues (from the database,
 * read by the overview's own count functions, cached).
 */

/** Every state, so each integration has one series per state (1 for its current one). */
const STATES: Record<IntegrationState, true> = {
  ready: true,
  starting: true,
  refused: true,
  failed: true,
  stopped: true,
};
export const INTEGRATION_STATES = Object.keys(STATES) as IntegrationState[];

export function registerIntegrationStates(
  registry: Registry,
  integrations: { list(): readonly { name: string; state: IntegrationState }[] },
): void {
  new Gauge({
    name: 'switchboard_integration_state',
    help: 'Integrations by state: 1 for the state each is in, 0 for the others',
    labelNames: ['integration', 'state'] as const,
    registers: [registry],
    collect() {
      // Reset first: an integration removed from INTEGRATION_DIRS leaves no stale series.
      this.reset();
      for (const item of integrations.list()) {
        for (const state of INTEGRATION_STATES) {
          this.set({ integration: item.name, state }, item.state === state ? 1 : 0);
        }
      }
    },
  });
}

/**
 * Queue figures are read at most once per 5 s per gateway, whatever the number of scrapers: an
 * HA pair of Prometheus servers at a 15 s interval plus a person reloading /metrics would
 * otherwise each run the three counts (a scan of every pending row: ~10 ms per 30,000 rows on
 * the partial indexes). 5 s is a third of the usual 15 s interval, so a scrape sees values at
 * most 5 s old.
 */
export const QUEUE_STATS_TTL_MS = 5_000;
/**
 * The read's bound, on the server (statement_timeout) and in the scrape: 2 s leaves most of
 * Prometheus' default 10 s scrape timeout. Past it the scrape answers with the last values and
 * switchboard_queue_stats_up 0.
 */
export const QUEUE_STATS_TIMEOUT_MS = 2_000;

interface QueueStats {
  tasks: TaskQueueCounts;
  deliveries: DeliveryQueueCounts;
  outbox: OutboxCounts;
  /** Date.now() when they were read. */
  readAt: number;
}

/** One read at a time, at most one per TTL; failures keep the last values. */
export class QueueStatsCache {
  private last: QueueStats | undefined;
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | undefined;
  private ok = false;
  /** Whether the read in flight was already counted as failed (it outlived the bound). */
  private counted = false;

  constructor(
    private readonly sql: Pool,
    private readonly log: Logger,
    private readonly onError: () => void,
    private readonly ttlMs = QUEUE_STATS_TTL_MS,
    private readonly timeoutMs = QUEUE_STATS_TIMEOUT_MS,
  ) {}

  /** The latest values (stale when the database is slow or down) and whether they are current. */
  async current(): Promise<{ stats: QueueStats | undefined; up: boolean }> {
    if (!this.inFlight && Date.now() - this.attemptedAt >= this.ttlMs) {
      this.attemptedAt = Date.now();
      this.counted = false;
      this.inFlight = this.read().finally(() => {
        this.inFlight = undefined;
      });
    }
    if (this.inFlight) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.timeoutMs);
      });
      let done = false;
      // read() catches its errors: inFlight never rejects.
      await Promise.race([this.inFlight.then(() => (done = true)), late]);
      clearTimeout(timer);
      if (!done && !this.counted) {
        // Counted once, at the bound; its later failure (a connect timeout) is not counted again.
        this.counted = true;
        this.onError();
      }
    }
    return { stats: this.last, up: this.ok && !this.inFlight };
  }

  private async read(): Promise<void> {
    try {
      const [tasks, deliveries, outbox] = await withStatementTimeout(
        this.sql,
        this.timeoutMs,
        async (tx) => [
          await countQueueTasks(tx),
          await countQueueDeliveries(tx),
          await countOutboxRows(tx),
        ],
      );
      this.last = { tasks, deliveries, outbox, readAt: Date.now() };
      this.ok = true;
    } catch (error) {
      this.ok = false;
      if (!this.counted) this.onError();
      this.counted = true;
      // At warn, not error: a lost database is logged by its sockets already (db/socket.ts).
      this.log.warn({ err: error }, 'queue metrics not read; /metrics shows the last values');
    }
  }
}

/** The queue label values: each queue's table. */
export const QUEUES = ['tasks', 'webhook_deliveries', 'outbox'] as const;

export function registerQueueStats(registry: Registry, sql: Pool, log: Logger): QueueStatsCache {
  const errors: Counter = new Counter({
    name: 'switchboard_queue_stats_errors_total',
    help: 'Reads of the queue metrics that failed or timed out (the last values were shown)',
    registers: [registry],
    // Metrics are collected in parallel: waiting for the read counts this scrape's failure in it.
    async collect() {
      await cache.current();
    },
  });
  const cache: QueueStatsCache = new QueueStatsCache(sql, log, () => errors.inc());
  const secondsSince = (at: Date | null) =>
    at === null ? 0 : Math.max(0, (Date.now() - at.getTime()) / 1000);
  new Gauge({
    name: 'switchboard_queue_items',
    help: 'Items in each queue by status: pending (waiting or due) and processing/running (leased)',
    labelNames: ['queue', 'status'] as const,
    registers: [registry],
    async collect() {
      const { stats } = await cache.current();
      if (!stats) return;
      const { tasks, deliveries, outbox } = stats;
      this.set({ queue: 'tasks', status: 'pending' }, tasks.pending);
      this.set({ queue: 'tasks', status: 'running' }, tasks.running);
      this.set({ queue: 'webhook_deliveries', status: 'pending' }, deliveries.pending);
      this.set({ queue: 'webhook_deliveries', status: 'processing' }, deliveries.processing);
      this.set({ queue: 'outbox', status: 'pending' }, outbox.pending);
      this.set({ queue: 'outbox', status: 'processing' }, outbox.processing);
    },
  });
  new Gauge({
    name: 'switchboard_queue_oldest_pending_age_seconds',
    help: 'Age of the oldest pending item of each queue (since it was created or received); 0 when none',
    labelNames: ['queue'] as const,
    registers: [registry],
    async collect() {
      const { stats } = await cache.current();
      if (!stats) return;
      // From now, not from the read: with the database down the age keeps growing.
      this.set({ queue: 'tasks' }, secondsSince(stats.tasks.oldestPendingAt));
      this.set({ queue: 'webhook_deliveries' }, secondsSince(stats.deliveries.oldestPendingAt));
      this.set({ queue: 'outbox' }, secondsSince(stats.outbox.oldestPendingAt));
    },
  });
  new Gauge({
    name: 'switchboard_dead_letters',
    help: 'Items that used up their attempts: outbox entries dead, webhook deliveries failed',
    labelNames: ['queue'] as const,
    registers: [registry],
    async collect() {
      const { stats } = await cache.current();
      if (!stats) return;
      this.set({ queue: 'outbox' }, stats.outbox.dead);
      this.set({ queue: 'webhook_deliveries' }, stats.deliveries.failed);
    },
  });
  new Gauge({
    name: 'switchboard_queue_stats_up',
    help: '1 when the queue metrics were read within their bound, 0 when they show older values',
    registers: [registry],
    async collect() {
      this.set((await cache.current()).up ? 1 : 0);
    },
  });
  new Gauge({
    name: 'switchboard_queue_stats_age_seconds',
    help: 'How old the queue metrics are (cached for 5 s; older while the database is unreachable)',
    registers: [registry],
    async collect() {
      const { stats } = await cache.current();
      if (stats) this.set((Date.now() - stats.readAt) / 1000);
    },
  });
  return cache;
}
