import type { Pool } from '../db/connect.ts';
import { insertTaskEvents, type NewTaskEvent } from '../events/store.ts';
import type { PublishTaskEvents } from '../events/task-events.ts';
import type { Logger } from '../log.ts';
import type { AgentEvent } from '../runners/presets/preset.ts';
import type { OutputLine } from '../runners/runner.ts';

/**
 * An agent's stdout/stderr as `task:token` events (one per line), or the events its preset's
 * parser makes of a structured line (`pushEvents`), written in batches: a chatty
 * agent prints thousands of lines a second, and one insert per line would make the database
 * its bottleneck. A profile's secret values never reach a row (the worker's redactor). Bounded per task: past MAX_OUTPUT_BYTES nothing more is stored, and one
 * `task:output_truncated` event says so (the stdout tail used as a result is kept by the runner).
 */

/** 1 MiB of output per task is far more than anyone reads in an event stream. */
export const MAX_OUTPUT_BYTES = 1024 * 1024;
/** A longer line is cut (8 KiB: a minified JSON blob, say). */
export const MAX_LINE_CHARS = 8 * 1024;
/** One parsed event's data at most (32 KiB: an 8 KiB text cut at 8 KiB, JSON-escaped, fits). */
export const MAX_EVENT_BYTES = 32 * 1024;
/** Lines wait at most this long before they are written: watchers see them within 100 ms. */
const FLUSH_MS = 100;
/** …or are written at once when this many are waiting. */
const BATCH = 200;

export class OutputSink {
  private pending: NewTaskEvent[] = [];
  private bytes = 0;
  private dropped = 0;
  private truncated = false;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly sql: Pool,
    private readonly publish: PublishTaskEvents,
    private readonly log: Logger,
    private readonly taskId: string,
    /** Called with the seqs this sink wrote, so the worker can ignore their notices. */
    private readonly wrote: (seqs: string[]) => void,
    /** The profile's secret values out of each line (output-redaction.ts), before it is cut. */
    private readonly redact: (line: string) => string = (line) => line,
  ) {}

  push({ stream, line: raw }: OutputLine): void {
    const line = this.redact(raw);
    const text = line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}…` : line;
    this.add('task:token', { stream, text }, Buffer.byteLength(text));
  }

  /**
   * Events an agent preset's parser made of one line (task:assistant, task:agent_tool,
   * task:usage), under the same budget as lines: their data counts as its JSON size. The
   * parser cuts every value; an event still above MAX_EVENT_BYTES is replaced by a marker.
   */
  pushEvents(events: readonly AgentEvent[]): void {
    for (const { type, data: parsed } of events) {
      // The model's text and the tools' inputs and results may quote a secret value too.
      const data = redactStrings(parsed, this.redact) as Record<string, unknown>;
      const size = Buffer.byteLength(JSON.stringify(data));
      if (size > MAX_EVENT_BYTES) this.add(type, { cut: true, bytes: size }, 32);
      else this.add(type, data, size);
    }
  }

  private add(type: string, data: Record<string, unknown>, size: number): void {
    if (this.truncated || this.bytes + size > MAX_OUTPUT_BYTES) {
      if (!this.truncated) {
        this.truncated = true;
        this.pending.push({
          taskId: this.taskId,
          type: 'task:output_truncated',
          data: { limitBytes: MAX_OUTPUT_BYTES },
        });
      }
      this.dropped += 1;
      return;
    }
    this.bytes += size;
    this.pending.push({ taskId: this.taskId, type, data });
    if (this.pending.length >= BATCH) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** Writes what is waiting; resolves once every earlier write is done. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length > 0) {
      this.chain = this.chain.then(async () => {
        try {
          const rows = await insertTaskEvents(this.sql, batch);
          this.wrote(rows.map((r) => r.seq));
          await this.publish(rows);
        } catch (error) {
          // Output is best effort: the task's outcome must not depend on it.
          this.log.warn(
            { err: error, taskId: this.taskId, lines: batch.length },
            'agent output lost',
          );
        }
      });
    }
    return this.chain;
  }

  /** The last write, plus how many lines were not stored. */
  async close(): Promise<{ droppedLines: number; storedBytes: number }> {
    await this.flush();
    return { droppedLines: this.dropped, storedBytes: this.bytes };
  }
}

/** Every string in a parsed event (keys too) through `redact`; the parser bounded its depth. */
function redactStrings(value: unknown, redact: (text: string) => string): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map((v) => redactStrings(v, redact));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[redact(k)] = redactStrings(v, redact);
    return out;
  }
  return value;
}
