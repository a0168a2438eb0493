import type { Counter } from 'prom-client';
import { isDatabaseUnreachable } from './db/connect.ts';
import type { Logger } from './log.ts';

export type UnhandledKind = 'rejection' | 'exception';

/**
 * At most this many unhandled errors are logged whole per window; the rest are counted (the
 * metric sees every one) and summed up in one line when the window ends. An integration that
 * could make the gateway throw once per message it sends could otherwise flood the log the way
 * its stderr once did (issue 13 item 7): 20 stack traces per 10 s is plenty to diagnose one.
 */
export const LOGGED_PER_WINDOW = 20;
export const WINDOW_MS = 10_000;

/**
 * What `switchboard start` does with an error nothing caught: a promise rejected with nobody
 * awaiting it, or a throw out of a timer, listener or callback (issue 13: one bad request
 * stopped the gateway for everyone through such a throw).
 *
 * - While booting (before `serving()`): fatal. Nothing serves yet, a half-started gateway is
 *   worse than none, and the supervisor's restart is the way out: `onFatal` shuts down and exits.
 * - Once serving: logged at error level (through the logger, so its redaction applies), counted
 *   in `switchboard_unhandled_errors_total`, and the gateway keeps serving. Such a throw unwinds
 *   only the callback it came from: every request, stream and upstream has its own state and
 *   its own error path, and exiting would cut every other task's calls and streams for the
 *   fault of one. What cannot be caught stays fatal by nature: V8's out-of-memory abort (no
 *   handler runs), a native crash, and process.exit or abort called by a dependency.
 * - A database connection lost while postgres.js sets it up (its own query's dropped promise)
 *   is no error of ours: logged at debug (db/socket.ts logs the loss itself), at any time.
 */
export class ProcessErrors {
  private log: Logger | undefined;
  private counter: Counter<'kind'> | undefined;
  private live = false;
  private windowStart = 0;
  private inWindow = 0;

  constructor(
    private readonly onFatal: (kind: UnhandledKind, error: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Installs the process handlers (once, before boot). */
  install(): void {
    process.on('unhandledRejection', (reason) => this.handle('rejection', reason));
    process.on('uncaughtException', (error) => this.handle('exception', error));
  }

  /** The logger, once the configuration is read. */
  setLogger(log: Logger): void {
    this.log = log;
  }

  /** Boot is over: from now on an unhandled error is logged, not fatal. */
  serving(counter: Counter<'kind'>): void {
    this.counter = counter;
    this.live = true;
  }

  handle(kind: UnhandledKind, error: unknown): void {
    // postgres.js marks the errors of its queries with the query's text (`query`).
    if (
      kind === 'rejection' &&
      isDatabaseUnreachable(error) &&
      typeof error === 'object' &&
      'query' in (error as object)
    ) {
      this.log?.debug({ err: error }, 'a database connection was lost while it was set up');
      return;
    }
    if (!this.live) {
      this.onFatal(kind, error);
      return;
    }
    try {
      this.counter?.inc({ kind });
      this.logBounded(kind, error);
    } catch {
      // The logger itself failed: nothing left to tell it with, and no reason to exit.
    }
  }

  private logBounded(kind: UnhandledKind, error: unknown): void {
    const now = this.now();
    if (now - this.windowStart >= WINDOW_MS) {
      const dropped = this.inWindow - LOGGED_PER_WINDOW;
      if (dropped > 0) {
        this.log?.error(
          { dropped, windowMs: WINDOW_MS },
          'more unhandled errors were counted but not logged',
        );
      }
      this.windowStart = now;
      this.inWindow = 0;
    }
    this.inWindow += 1;
    if (this.inWindow > LOGGED_PER_WINDOW) return;
    // The same words as at start-up (main.ts), which tests and alerts look for.
    this.log?.error(
      { err: error, kind, serving: true },
      kind === 'rejection' ? 'unhandled rejection' : 'uncaught exception',
    );
  }
}
