import pino, { type DestinationStream, type Logger } from 'pino';
import { REDACT_PATHS } from './redact.ts';

export type { Logger };

/**
 * JSON logs on stdout. Authorization headers, cookies and anything under a key named like a
 * secret are replaced before the line is written, so a secret never reaches the log sink.
 */
export function createLogger(
  level: string,
  destination: DestinationStream = pino.destination({ fd: 1, sync: false }),
): Logger {
  return pino(
    {
      level,
      base: { service: 'switchboard' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** For one-shot CLI commands: stdout is for the command's answer, so logs go to stderr. */
export function stderrDestination(): DestinationStream {
  return pino.destination({ fd: 2, sync: true });
}
