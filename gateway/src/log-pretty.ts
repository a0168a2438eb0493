import type { DestinationStream } from 'pino';

/**
 * Log lines for a person at a terminal: pino still writes its JSON line (so redaction has
 * already happened, log.ts), and this turns it into
 *   14:32:01.123 INFO  switchboard gateway listening url=http://127.0.0.1:8080 listen=…
 * An error shows its message; its stack only at error and fatal, where it is a bug's trace.
 */
export function prettyDestination(
  out: DestinationStream & { flush?: (cb?: (error?: Error) => void) => void },
  options: { colors: boolean },
): DestinationStream & { flush(cb?: (error?: Error) => void): void } {
  return {
    write(line: string) {
      out.write(prettyLine(line, options.colors));
    },
    flush(cb) {
      if (out.flush) out.flush(cb);
      else cb?.();
    },
  };
}

const LEVEL_COLORS: Record<string, string> = {
  fatal: '\x1b[41;97m',
  error: '\x1b[31m',
  warn: '\x1b[33m',
  info: '\x1b[32m',
  debug: '\x1b[90m',
  trace: '\x1b[90m',
};
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

/** Fields every line has, shown in the line's head or not at all. */
const HEAD = new Set(['time', 'level', 'msg', 'service']);

export function prettyLine(json: string, colors: boolean): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const level = String(entry.level ?? 'info');
  const paint = (color: string | undefined, text: string) =>
    colors && color ? `${color}${text}${RESET}` : text;
  const parts = [
    paint(DIM, clock(entry.time)),
    paint(LEVEL_COLORS[level], level.toUpperCase().padEnd(5)),
    String(entry.msg ?? ''),
  ];
  let stack = '';
  for (const [key, value] of Object.entries(entry)) {
    if (HEAD.has(key) || value === undefined) continue;
    if (key === 'err' && typeof value === 'object' && value !== null) {
      const err = value as { message?: unknown; stack?: unknown };
      parts.push(`${paint(DIM, 'err=')}${shown(err.message ?? value)}`);
      if ((level === 'error' || level === 'fatal') && typeof err.stack === 'string') {
        stack = err.stack
          .split('\n')
          .slice(1)
          .map((l) => `    ${l.trim()}`)
          .join('\n');
      }
      continue;
    }
    parts.push(`${paint(DIM, `${key}=`)}${shown(value)}`);
  }
  return `${parts.join(' ')}\n${stack ? `${paint(DIM, stack)}\n` : ''}`;
}

/** Bare when it reads unambiguously, JSON otherwise (spaces, quotes, objects). */
function shown(value: unknown): string {
  if (typeof value === 'string') {
    return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  }
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/** The local time of day with milliseconds: the date is rarely what a terminal reader needs. */
function clock(time: unknown): string {
  const date = new Date(typeof time === 'string' || typeof time === 'number' ? time : Date.now());
  if (Number.isNaN(date.getTime())) return String(time);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}
