import type { Readable } from 'node:stream';

/** Longest line logged; the rest of an overlong line is dropped. */
export const LOG_LINE_MAX = 8192;

/**
 * Calls `emit` once per line of a child's output stream. A line is cut at 8 KiB so a process
 * that writes without newlines cannot grow our memory (readline would buffer it whole).
 */
export function forEachLine(
  stream: Readable,
  emit: (line: string) => void,
  max: number = LOG_LINE_MAX,
): void {
  let partial = '';
  const send = (line: string) => {
    if (line !== '') emit(line);
  };
  stream.setEncoding('utf8');
  stream.on('data', (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) send(line.replace(/\r$/, '').slice(0, max));
    if (partial.length > max) {
      send(partial.slice(0, max));
      partial = '';
    }
  });
  stream.on('end', () => send(partial.slice(0, max)));
}
