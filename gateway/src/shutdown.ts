import type { Server } from 'node:http';
import type { Lifecycle } from './http/health.ts';
import type { Logger } from './log.ts';

/**
 * Graceful shutdown in the order the platforms expect (docker stop and compose give 10 s before
 * SIGKILL): /readyz goes 503, the listener stops accepting, long-lived streams are ended
 * explicitly (they would otherwise hold the server open forever), in-flight requests get until
 * the deadline to finish, then remaining connections are cut and the resources (database last)
 * are closed. Idempotent: a second call is ignored here; main.ts turns a second signal into an
 * immediate exit.
 */
export interface Shutdown {
  /** Register something to end when shutdown starts (an SSE stream, a worker loop). */
  onStart(close: () => void): () => void;
  /** Resolves when everything is closed; `ok` false if the deadline forced connections shut. */
  run(reason: string): Promise<{ ok: boolean }>;
  readonly started: boolean;
}

export function createShutdown(options: {
  server: Server;
  lifecycle: Lifecycle;
  log: Logger;
  deadlineMs: number;
  /** Closed in order after the HTTP server (e.g. integrations, then the database). */
  resources: Array<{ name: string; close: () => Promise<void> }>;
}): Shutdown {
  const { server, log } = options;
  const starters = new Set<() => void>();
  let running: Promise<{ ok: boolean }> | undefined;

  const closeServer = (): Promise<boolean> =>
    new Promise((resolve) => {
      let forced = false;
      const deadline = setTimeout(() => {
        forced = true;
        log.warn(
          { deadlineMs: options.deadlineMs },
          'shutdown deadline reached; closing connections',
        );
        server.closeAllConnections();
      }, options.deadlineMs);
      // A keep-alive connection goes idle after its last response; close those as they appear.
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      server.close(() => {
        clearTimeout(deadline);
        clearInterval(sweep);
        resolve(!forced);
      });
      server.closeIdleConnections();
    });

  const run = async (reason: string): Promise<{ ok: boolean }> => {
    const started = Date.now();
    log.info({ reason, deadlineMs: options.deadlineMs }, 'shutting down');
    options.lifecycle.shuttingDown = true;
    for (const close of starters) {
      try {
        close();
      } catch (error) {
        log.warn({ err: error }, 'closing a stream failed');
      }
    }
    const ok = server.listening ? await closeServer() : true;
    for (const resource of options.resources) {
      try {
        await resource.close();
      } catch (error) {
        log.error({ err: error, resource: resource.name }, 'closing failed');
      }
    }
    log.info({ ms: Date.now() - started, graceful: ok }, 'shut down');
    return { ok };
  };

  return {
    onStart(close) {
      starters.add(close);
      return () => starters.delete(close);
    },
    run(reason) {
      running ??= run(reason);
      return running;
    },
    get started() {
      return running !== undefined;
    },
  };
}
