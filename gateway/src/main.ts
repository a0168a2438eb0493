import { CONFIG_VARIABLES, loadConfig, unknownVariables } from './config.ts';
import { ConfigError, EXIT, SwitchboardError } from './errors.ts';
import { startGateway } from './gateway.ts';
import { createLogger, type Logger } from './log.ts';

/**
 * `switchboard start`: boot, then wait for SIGTERM/SIGINT. The first signal shuts down
 * gracefully and exits 0; a second one exits at once (exit 1), for an operator who will not wait.
 */
export async function runGateway(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let log: Logger | undefined;
  try {
    const config = loadConfig(env);
    log = createLogger(config.logLevel);
    const unknown = unknownVariables(env);
    if (unknown.length > 0) {
      log.warn(
        { unknown, known: CONFIG_VARIABLES },
        'ignoring unknown SWITCHBOARD_* variables (typos?)',
      );
    }
    const gateway = await startGateway(config, log, env);
    const logger = log;
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals > 1) {
        logger.warn({ signal }, 'second signal: exiting now');
        logger.flush();
        process.exit(EXIT.failure);
      }
      gateway.shutdown.run(signal).then(
        () => logger.flush(() => process.exit(EXIT.ok)),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          logger.flush(() => process.exit(EXIT.failure));
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  } catch (error) {
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
