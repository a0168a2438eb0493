import { CONFIG_VARIABLES, loadConfig, unknownVariables } from './config.ts';
import { ConfigError, EXIT, SwitchboardError } from './errors.ts';
import { startGateway } from './gateway.ts';
import { applyHeapGrowth } from './heap-growth.ts';
import { type Logger, stdoutLogger } from './log.ts';
import { ProcessErrors } from './process-errors.ts';
import { createShutdown, type Shutdown } from './shutdown.ts';

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/**
 * `switchboard start`: boot, then wait for SIGTERM/SIGINT. The handlers are installed before
 * anything else, so a signal at any point (while the database opens, during migrations, after
 * /readyz first answers, during shutdown) takes the same way out:
 * - the first runs the graceful shutdown (gateway.ts stops boot at its next step) and exits 0
 *   once everything it started is closed: stdio servers, processes, the database and its lock;
 * - a second stops waiting for in-flight requests (they are cut at once) but still closes the
 *   rest, and exits 0;
 * - a third exits at once with 1, for an operator who will not wait for a process that ignores
 *   its SIGTERM (SIGKILLed a few seconds later anyway); whatever had not stopped yet is left.
 */
export async function runGateway(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let log: Logger | undefined;
  let shutdown: Shutdown | undefined;
  let signals = 0;
  const exit = (code: number) => {
    if (log) log.flush(() => process.exit(code));
    else process.exit(code);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    // Before the configuration is read nothing has started: nothing to close.
    if (!shutdown || !log) return exit(EXIT.ok);
    if (signals === 2) {
      log.warn({ signal }, 'second signal: cutting open requests now (a third exits at once)');
      shutdown.hurry();
      return;
    }
    if (signals > 2) {
      log.warn({ signal }, 'third signal: exiting now');
      log.flush();
      process.exit(EXIT.failure);
    }
    const logger = log;
    shutdown.run(signal).then(
      () => exit(EXIT.ok),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        exit(EXIT.failure);
      },
    );
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  // postgres.js 3.4 runs a query of its own on each new connection (the array types) and drops
  // its promise: a connection lost at that moment is an unhandled rejection, never fatal. Any
  // other error nothing caught is fatal during boot and only logged once the gateway serves
  // (process-errors.ts says why).
  const errors = new ProcessErrors((kind, reason) => {
    const what = kind === 'rejection' ? 'unhandled rejection' : 'uncaught exception';
    process.stderr.write(`switchboard: ${what} during start-up: ${String(reason)}\n`);
    log?.fatal({ err: reason, serving: false }, what);
    if (!shutdown) return exit(EXIT.failure);
    shutdown.run(what).finally(() => exit(EXIT.failure));
  });
  errors.install();
  try {
    const config = loadConfig(env);
    // Only here: the long-lived process. The CLI's other commands end before it would matter.
    applyHeapGrowth(config.heapGrowthPercent);
    log = stdoutLogger(config.logLevel, config.logFormat);
    errors.setLogger(log);
    const unknown = unknownVariables(env);
    if (unknown.length > 0) {
      log.warn(
        { unknown, known: CONFIG_VARIABLES },
        'ignoring unknown SWITCHBOARD_* variables (typos?)',
      );
    }
    shutdown = createShutdown({ log, deadlineMs: config.shutdownTimeoutMs });
    const gateway = await startGateway(config, log, env, shutdown);
    errors.serving(gateway.metrics.unhandledErrors);
  } catch (error) {
    // Boot stopped by a signal: its handler exits once everything is closed.
    if (signals > 0) return;
    if (error instanceof ConfigError) {
      process.stderr.write(`switchboard: ${error.message}\n`);
      process.exit(EXIT.usage);
    }
    const message = error instanceof SwitchboardError ? error.message : String(error);
    if (log) {
      const logger = log;
      logger.fatal({ err: error }, 'gateway failed to start');
      await new Promise<void>((resolve) => logger.flush(() => resolve()));
    }
    process.stderr.write(`switchboard: could not start: ${message}\n`);
    process.exit(EXIT.failure);
  }
}
