import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import {
  deserializeMessage,
  type JSONRPCMessage,
  serializeMessage,
  type Transport,
} from '@modelcontextprotocol/client';
import { killProcessGroup } from '../../containment/process-group.ts';
import type { Logger } from '../../log.ts';
import { MAX_MESSAGE_BYTES } from './limits.ts';
import { LineSplitter, type SkippedLine } from './line-splitter.ts';
import { answeredId, type RequestId, tooLargeAnswer } from './oversized.ts';

/**
 * A server that sends this many oversized lines within OVERSIZED_WINDOW_MS is stopped (and
 * restarted by the supervisor): one big answer now and then is an honest server's mistake, its
 * request fails alone; four a minute is a server that will go on, each one 10+ MiB of pipe read.
 */
const OVERSIZED_LIMIT = 3;
const OVERSIZED_WINDOW_MS = 60_000;
/**
 * One line this long is no answer that will ever be read: stop the server rather than read an
 * endless line for ever (skipping costs no memory, but ~0.1 s of CPU per 100 MiB).
 */
const MAX_SKIPPED_BYTES = 16 * MAX_MESSAGE_BYTES;

/**
 * An MCP transport over a child process we spawned ourselves (newline-delimited JSON-RPC on
 * stdin/stdout). The SDK's StdioClientTransport spawns for us, but it adds LOGNAME, SHELL, TERM
 * and USER to the environment and cannot put the child in its own process group; we need both
 * an exact environment and a group kill, so the supervisor spawns and this only speaks.
 *
 * Each message is at most MAX_MESSAGE_BYTES: a longer line is skipped, and when it answered one
 * of our requests that request (only) fails with upstream_too_large (oversized.ts). Nothing the
 * server writes can throw out of the 'data' listener.
 */
export class ChildProcessTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private readonly lines: LineSplitter;
  private closed = false;
  private killed = false;
  /** When recent oversized lines ended (at most OVERSIZED_LIMIT kept). */
  private oversizedAt: number[] = [];
  /** The id already failed for the line being skipped (found in its head). */
  private failedId: RequestId | undefined;
  /** Whether stdin is corked until the loop's check phase (send). */
  private corked = false;

  constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly owner: { integration: string; log: Logger },
  ) {
    this.lines = new LineSplitter(MAX_MESSAGE_BYTES, {
      line: (line) => this.receive(line),
      overflowed: (line) => this.overflowed(line),
      skipping: (line) => {
        if (line.bytes > MAX_SKIPPED_BYTES)
          this.kill(`a line went past ${MAX_SKIPPED_BYTES} bytes`);
      },
      skipped: (line) => this.skipped(line),
    });
  }

  async start(): Promise<void> {
    this.child.stdout.on('data', (chunk: Buffer) => {
      if (this.killed) return;
      try {
        this.lines.push(chunk);
      } catch (error) {
        // Not expected (the splitter and receive() catch their own): still never fatal.
        this.owner.log.error(
          { integration: this.owner.integration, err: error },
          'upstream output not read',
        );
      }
    });
    this.child.stdin.on('error', (error) => this.onerror?.(error));
    this.child.on('close', () => this.finish());
  }

  /**
   * Waits for 'drain' when the pipe is full, so a slow server applies backpressure. Messages
   * sent in one turn of the event loop go to the pipe in one write (stdin corked until the
   * loop's check phase): with 16 concurrent calls, one write(2) per message was the gateway's
   * largest single cost (~6 % of a call's CPU), and each one woke the server on its own.
   */
  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      const stdin = this.child.stdin;
      if (this.closed || !stdin.writable) {
        reject(new Error('the server process has exited'));
        return;
      }
      if (!this.corked) {
        this.corked = true;
        stdin.cork();
        setImmediate(this.uncork);
      }
      if (stdin.write(serializeMessage(message))) resolve();
      else stdin.once('drain', resolve);
    });
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.child.stdin.uncork();
  };

  /** Ends the conversation; stopping the process is the supervisor's job. */
  async close(): Promise<void> {
    this.finish();
  }

  private receive(line: Buffer): void {
    if (line.length === 0) return;
    let message: JSONRPCMessage;
    try {
      message = deserializeMessage(line.toString('utf8'));
    } catch (error) {
      // A line that is not JSON-RPC: report it and keep reading the next one.
      this.onerror?.(error as Error);
      return;
    }
    this.deliver(message);
  }

  private deliver(message: JSONRPCMessage): void {
    try {
      this.onmessage?.(message);
    } catch (error) {
      this.onerror?.(error as Error);
    }
  }

  /** A line just passed the cap: fail its request now if its head says which one. */
  private overflowed(line: SkippedLine): void {
    this.failedId = answeredId(line.head);
    if (this.failedId !== undefined) this.fail(this.failedId);
  }

  /** A skipped line ended: fail its request if only its tail said which, log, count it. */
  private skipped(line: SkippedLine): void {
    let id = this.failedId;
    this.failedId = undefined;
    if (id === undefined) {
      id = answeredId(line.head, line.tail);
      if (id !== undefined) this.fail(id);
    }
    this.owner.log.warn(
      { integration: this.owner.integration, bytes: line.bytes, limit: MAX_MESSAGE_BYTES, id },
      'upstream message too large',
    );
    const now = Date.now();
    this.oversizedAt = [...this.oversizedAt, now].filter((t) => now - t < OVERSIZED_WINDOW_MS);
    if (this.oversizedAt.length > OVERSIZED_LIMIT) {
      this.kill(`more than ${OVERSIZED_LIMIT} oversized lines within ${OVERSIZED_WINDOW_MS} ms`);
    }
  }

  private fail(id: RequestId): void {
    this.deliver(tooLargeAnswer(this.owner.integration, id, MAX_MESSAGE_BYTES));
  }

  /** Stops a server that keeps sending too much; the supervisor restarts it after its backoff. */
  private kill(reason: string): void {
    if (this.killed) return;
    this.killed = true;
    this.lines.clear();
    this.owner.log.warn(
      {
        integration: this.owner.integration,
        pid: this.child.pid,
        limit: MAX_MESSAGE_BYTES,
        reason,
      },
      'upstream stopped: it keeps sending oversized messages',
    );
    this.onerror?.(new Error(`the server was stopped: ${reason}`));
    killProcessGroup(this.child, 'SIGKILL');
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.lines.clear();
    this.onclose?.();
  }
}
