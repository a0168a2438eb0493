import type { Server } from 'node:http';
import type { Lifecycle } from './lifecycle.ts';
import type { Logger } from './log.ts';

/**
 * Graceful shutdown in the order the platforms expect (docker stop and compose give 10 s before
 * SIGKILL): /readyz goes 503, the listener stops accepting, long-lived streams are ended
 * explicitly (they would otherwise hold the server open forever), in-flight requests get until
 * the deadline to finish, then remaining connections are cut and the resources are closed, the
 * last started first (the database last).
 *
 * It exists from the first step of boot, so a signal at any point has one way out: boot adds
 * each resource as it starts it, and `run` waits for the boot step in progress (`holdUntil`)
 * before closing, so nothing is started after it was meant to be closed. Idempotent: a second
 * `run` returns the first one's promise; `hurry` (main.ts, a second signal) cuts the wait for
 * in-flight requests short.
 */
export interface Shutdown extends Lifecycle {
  /** Register something to end when shutdown starts (an SSE stream, a worker loop). */
  onStart(close: () => void): () => void;
  /** Something to close after the HTTP server; closed in the reverse order of adding. */
  add(name: string, close: () => Promise<void>): void;
  /** The HTTP server once it listens: stopped first. */
  serve(server: Server): void;
  /** Closing waits for `step` to settle (boot's step in progress when the signal came). */
  holdUntil(step: Promise<unknown>): void;
  /** Resolves when everything is closed; `ok` false if connections had to be cut. */
  run(reason: string): Promise<{ ok: boolean }>;
  /** Stop waiting for in-flight requests: cut them now (or as soon as the server is closing). */
  hurry(): void;
  readonly started: boolean;
}

/** The least time one resource's close is given (see closeTimeoutMs). */
const MIN_CLOSE_MS = 10_000;

export function createShutdown(options: {
  log: Logger;
  deadlineMs: number;
  /** The HTTP server, if it already listens (else `serve` it later). */
  server?: Server;
  /** Closed in this order after the HTTP server, after anything `add`ed. */
  resources?: Array<{ name: string; close: () => Promise<void> }>;
  /** How long one resource's close may take (default: the deadline, and at least 10 s). */
  closeTimeoutMs?: number;
}): Shutdown {
  const { log } = options;
  // At least 10 s even with a short request deadline: the embedded database's close flushes it,
  // and cutting that short would leave it to crash recovery at the next start.
  const closeTimeoutMs = options.closeTimeoutMs ?? Math.max(options.deadlineMs, MIN_CLOSE_MS);
  const starters = new Set<() => void>();
  const resources = [...(options.resources ?? [])];
  let server = options.server;
  let hold: Promise<unknown> = Promise.resolve();
  let running: Promise<{ ok: boolean }> | undefined;
  let shuttingDown = false;
  let hurried = false;
  let cutNow: (() => void) | undefined;

  const closeServer = (open: Server): Promise<boolean> =>
    new Promise((resolve) => {
      let forced = false;
      const cut = () => {
        if (forced) return;
        forced = true;
        open.closeAllConnections();
      };
      const deadline = setTimeout(() => {
        log.warn(
          { deadlineMs: options.deadlineMs },
          'shutdown deadline reached; closing connections',
        );
        cut();
      }, options.deadlineMs);
      // A keep-alive connection goes idle after its last response; close those as they appear.
      const sweep = setInterval(() => open.closeIdleConnections(), 100);
      open.close(() => {
        clearTimeout(deadline);
        clearInterval(sweep);
        cutNow = undefined;
        resolve(!forced);
      });
      open.closeIdleConnections();
      cutNow = cut;
      if (hurried) cut();
    });

  /**
   * One resource's close, bounded by the deadline: a close that never settles (a worker waiting
   * on a query over a connection the database dropped mid-statement) is logged and left behind,
   * so the ones after it (the database last) still close and the process still exits.
   */
  const closeWithin = async (
    resource: { name: string; close: () => Promise<void> },
    ms: number,
  ): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), ms);
    });
    try {
      const outcome = await Promise.race([resource.close().then(() => 'closed' as const), late]);
      if (outcome === 'closed') return true;
      log.error(
        { resource: resource.name, ms },
        'closing did not finish by the deadline; going on',
      );
      return false;
    } catch (error) {
      log.error({ err: error, resource: resource.name }, 'closing failed');
      return true;
    } finally {
      clearTimeout(timer);
    }
  };

  const run = async (reason: string): Promise<{ ok: boolean }> => {
    const started = Date.now();
    log.info({ reason, deadlineMs: options.deadlineMs }, 'shutting down');
    shuttingDown = true;
    for (const close of starters) {
      try {
        close();
      } catch (error) {
        log.warn({ err: error }, 'closing a stream failed');
      }
    }
    // Boot's step in progress (opening the database, a migration) finishes before anything
    // closes; boot then sees `started` and starts nothing more.
    await hold.catch(() => {});
    let ok = server?.listening ? await closeServer(server) : true;
    for (const resource of resources) {
      if (!(await closeWithin(resource, closeTimeoutMs))) ok = false;
    }
    log.info({ ms: Date.now() - started, graceful: ok }, 'shut down');
    return { ok };
  };

  return {
    onStart(close) {
      starters.add(close);
      return () => starters.delete(close);
    },
    add(name, close) {
      resources.unshift({ name, close });
    },
    serve(listening) {
      server = listening;
    },
    holdUntil(step) {
      hold = step;
    },
    run(reason) {
      running ??= run(reason);
      return running;
    },
    hurry() {
      hurried = true;
      cutNow?.();
    },
    get started() {
      return running !== undefined;
    },
    get shuttingDown() {
      return shuttingDown;
    },
  };
}
