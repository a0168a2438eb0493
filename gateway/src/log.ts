import pino, { type DestinationStream, type Logger } from 'pino';
import { REDACT_PATHS } from './redact.ts';

export type { Logger };

/**
 * JSON logs on stdout. Authorization headers, cookies and anything under a key named like a
 * secret are replaced before the line is written, so a secret never reaches the log sink.
 */
export function createLogger(
  level: string,
  destination: DestinationStream = bufferedStdout(),
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

/** A line waits at most this long in the buffer before it is written. */
export const LOG_FLUSH_MS = 100;

/**
 * stdout with one write(2) per ~4 KiB instead of one per line: at about a line per MCP request
 * (the access log) a write each cost ~50 µs of the gateway's ~700 µs per tools/call in the bench
 * profile (test/bench/RESULTS.md). A line waits at most LOG_FLUSH_MS; every exit path flushes
 * first (main.ts), so only a SIGKILL can lose the last ≤ 100 ms of lines.
 */
function bufferedStdout(): DestinationStream {
  const destination = pino.destination({ fd: 1, sync: false, minLength: 4096 });
  const buffered = destination as unknown as { _len?: number; destroyed?: boolean };
  setInterval(() => {
    if (!buffered.destroyed && (buffered._len ?? 1) > 0) destination.flush();
  }, LOG_FLUSH_MS).unref();
  return destination;
}
