import { trace } from '@opentelemetry/api';
import pino, { type DestinationStream, type Logger } from 'pino';
import { prettyDestination } from './log-pretty.ts';
import { REDACT_PATHS } from './redact.ts';

export type { Logger };

/** `LOG_FORMAT`: `auto` is pretty on a terminal and JSON lines anywhere else. */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** What `auto` means for a stream: pretty when a person is reading it (a TTY). */
export function logFormatFor(
  format: LogFormat,
  stream: { isTTY?: boolean },
): Exclude<LogFormat, 'auto'> {
  if (format !== 'auto') return format;
  return stream.isTTY ? 'pretty' : 'json';
}

/**
 * Logs on stdout: JSON lines, or in `pretty` format one readable line each (log-pretty.ts,
 * colored on a terminal). Authorization headers, cookies and anything under a key named like a
 * secret are replaced before the line is formatted, so a secret never reaches the log sink in
 * either format.
 */
export function createLogger(
  level: string,
  destination: DestinationStream = bufferedStdout(),
  format: Exclude<LogFormat, 'auto'> = 'json',
  colors = false,
): Logger {
  return pino(
    {
      level,
      base: { service: 'switchboard' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin: traceFields,
      // pino's default merge writes into the mixin's object: the shared empty one must stay
      // empty, and a line outside any span costs no allocation.
      mixinMergeStrategy: (line: object, trace: object) =>
        trace === NO_TRACE ? line : Object.assign(trace, line),
    },
    format === 'pretty' ? prettyDestination(destination, { colors }) : destination,
  );
}

const NO_TRACE = Object.freeze({});

/**
 * A line logged inside a span carries its trace_id and span_id (the names of OpenTelemetry's
 * log data model), so a log search finds the trace and a trace finds its lines. With tracing off
 * no span is ever active: one context lookup per line.
 */
function traceFields(): object {
  const span = trace.getActiveSpan();
  if (!span) return NO_TRACE;
  const { traceId, spanId, traceFlags } = span.spanContext();
  if (traceFlags === 0 && traceId === '00000000000000000000000000000000') return NO_TRACE;
  return { trace_id: traceId, span_id: spanId };
}

/** The gateway's logger on stdout, in the configured format. */
export function stdoutLogger(level: string, format: LogFormat): Logger {
  const resolved = logFormatFor(format, process.stdout);
  return createLogger(
    level,
    bufferedStdout(),
    resolved,
    resolved === 'pretty' && isTty(process.stdout),
  );
}

/** A one-shot command's logger on stderr (stdout carries its answer), in the configured format. */
export function stderrLogger(level: string, format: LogFormat): Logger {
  const resolved = logFormatFor(format, process.stderr);
  return createLogger(
    level,
    stderrDestination(),
    resolved,
    resolved === 'pretty' && isTty(process.stderr),
  );
}

const isTty = (stream: { isTTY?: boolean }) => stream.isTTY === true;

/** For one-shot CLI commands: stdout is for the command's answer, so logs go to stderr. */
export function stderrDestination(): DestinationStream {
  return pino.destination({ fd: 2, sync: true });
}

/** A line waits at most this long in the buffer before it is written. */
export const LOG_FLUSH_MS = 100;

/**
 * stdout with one write(2) per ~4 KiB instead of one per line: at about a line per MCP request
 * (the access log) a write each cost ~50 µs of the gateway's ~700 µs per tools/call in the bench
 * profile (test/bench/HISTORY.md). A line waits at most LOG_FLUSH_MS; every exit path flushes
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
