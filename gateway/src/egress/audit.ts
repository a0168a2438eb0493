import { Counter, type Registry } from 'prom-client';
import { BufferedWriter } from '../buffered-writer.ts';
import type { Sql } from '../db/connect.ts';
import type { Logger } from '../log.ts';
import { type EgressRow, insertEgressConnections } from './store.ts';
import type { EgressRecord } from './types.ts';

/**
 * Rows one integration may add to the connection log per second; its connections past that are
 * counted (metrics, `switchboard_egress_log_dropped_total{cause="rate"}`) but not stored. 200/s is
 * far above what a server talking to a few APIs opens (keep-alive reuses connections) and bounds
 * what a hostile one, opening refused connections in a loop, writes: ≤ 17 M rows a day at worst,
 * deleted after retention.egress.
 */
export const EGRESS_ROWS_PER_SECOND = 200;
/** The `integration` label of a connection whose credentials named none. */
const NO_INTEGRATION = 'unknown';

/** Postgres text holds no NUL, and the log holds a host of at most 253 characters (DNS's bound). */
function clean(text: string, max: number): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what Postgres refuses
  return text.replace(/\u0000/g, '\ufffd').slice(0, max);
}

/**
 * The egress proxy's `record`: counts every connection in the metrics at once and queues its row
 * for the log (buffered-writer.ts: batches, at most 200 ms late, 10,000 pending). Never throws
 * and never waits, so a slow database never holds a connection open.
 */
export class EgressAudit {
  private readonly connections: Counter<'integration' | 'outcome' | 'reason'>;
  private readonly bytes: Counter<'integration' | 'direction'>;
  private readonly dropped: Counter<'cause'>;
  private readonly writer: BufferedWriter<EgressRow>;
  /** Per integration: the second being counted and the rows written in it. */
  private readonly rates = new Map<string, { second: number; rows: number }>();

  constructor(
    sql: Sql,
    private readonly log: Logger,
    registry: Registry,
  ) {
    this.connections = new Counter({
      name: 'switchboard_egress_connections_total',
      help: "Connections through the egress proxy by integration ('unknown': no valid credentials), outcome (allowed, refused, failed) and reason (egress/types.ts EGRESS_REASONS, none)",
      labelNames: ['integration', 'outcome', 'reason'] as const,
      registers: [registry],
    });
    this.bytes = new Counter({
      name: 'switchboard_egress_bytes_total',
      help: 'Bytes through the egress proxy by integration and direction (up: to the upstream, down: back)',
      labelNames: ['integration', 'direction'] as const,
      registers: [registry],
    });
    this.dropped = new Counter({
      name: 'switchboard_egress_log_dropped_total',
      help: 'Egress connections counted but not stored in the log: rate (past 200 a second per integration), backlog (database slower than the proxy) or error (a write failed)',
      labelNames: ['cause'] as const,
      registers: [registry],
    });
    this.writer = new BufferedWriter({
      write: (batch) => insertEgressConnections(sql, rowsJson(batch)),
      onDropped: (count, error) => {
        this.dropped.inc({ cause: error === undefined ? 'backlog' : 'error' }, count);
        if (error !== undefined) {
          this.log.error({ err: error, rows: count }, 'could not write the egress log');
        }
      },
    });
  }

  /** The proxy's `record`: never throws. */
  record(entry: EgressRecord): void {
    try {
      const integration = entry.integration ?? NO_INTEGRATION;
      this.connections.inc({ integration, outcome: entry.outcome, reason: entry.reason ?? 'none' });
      if (entry.bytesUp > 0) this.bytes.inc({ integration, direction: 'up' }, entry.bytesUp);
      if (entry.bytesDown > 0) this.bytes.inc({ integration, direction: 'down' }, entry.bytesDown);
      if (!this.withinRate(integration)) {
        this.dropped.inc({ cause: 'rate' });
        return;
      }
      this.writer.push(toRow(entry));
    } catch (error) {
      this.log.error({ err: error }, 'egress audit: could not record a connection');
    }
  }

  /** Writes what is queued (on shutdown, and in tests before reading the log). */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  private withinRate(integration: string): boolean {
    const second = Math.floor(Date.now() / 1000);
    const rate = this.rates.get(integration);
    if (!rate || rate.second !== second) {
      // One entry per integration name the proxy issued credentials for (or 'unknown'): bounded.
      this.rates.set(integration, { second, rows: 1 });
      return true;
    }
    rate.rows += 1;
    return rate.rows <= EGRESS_ROWS_PER_SECOND;
  }
}

function toRow(entry: EgressRecord): EgressRow {
  return {
    startedAt: entry.startedAt.toISOString(),
    integration: entry.integration ?? null,
    taskId: entry.taskId ?? null,
    kind: entry.kind,
    host: clean(entry.host, 253),
    port: entry.port,
    address: entry.address === undefined ? null : clean(entry.address, 64),
    outcome: entry.outcome,
    reason: entry.reason ?? null,
    bytesUp: entry.bytesUp,
    bytesDown: entry.bytesDown,
    durationMs: Math.min(Math.round(entry.durationMs), 2_147_483_647),
    mtls: entry.mtls,
  };
}

function rowsJson(rows: EgressRow[]): string {
  return JSON.stringify(rows);
}
