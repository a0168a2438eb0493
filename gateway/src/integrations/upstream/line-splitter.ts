/**
 * Splits a byte stream into newline-delimited lines of at most `max` bytes each, holding no more
 * than `max` bytes however the stream is cut. A line that grows past `max` is not kept: its bytes
 * are skipped up to the next newline, and only its first and last bytes are remembered (enough to
 * find the JSON-RPC id of the request it answered, see oversized.ts).
 * (Buffer.concat copies: the ends kept hold no 64 KiB chunk alive for a few bytes.)
 *
 * It never throws: whatever arrives, the caller's 'data' listener returns normally (the SDK's
 * ReadBuffer threw out of that listener when one chunk carried the end of a 10 MiB line and more,
 * and the gateway exited).
 */

/** Bytes kept of each end of a skipped line: an id and the keys before or after it fit in 256. */
export const EDGE_BYTES = 256;

export interface SkippedLine {
  /** The line's length so far (the newline not counted). */
  bytes: number;
  /** Its first EDGE_BYTES bytes. */
  head: Buffer;
  /** Its last EDGE_BYTES bytes (so far, while it goes on). */
  tail: Buffer;
}

export interface LineHandlers {
  /** A complete line within the bound, without its newline (a trailing CR removed). */
  line(line: Buffer): void;
  /** A line has just grown past the bound: what is known of it so far (its head). */
  overflowed(line: SkippedLine): void;
  /** More of a skipped line arrived (it still has no end). */
  skipping(line: SkippedLine): void;
  /** A skipped line ended. */
  skipped(line: SkippedLine): void;
}

export class LineSplitter {
  private parts: Buffer[] = [];
  private length = 0;
  private skip: SkippedLine | undefined;

  constructor(
    private readonly max: number,
    private readonly handlers: LineHandlers,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (start <= chunk.length) {
      const newline = chunk.indexOf(10, start);
      const end = newline === -1 ? chunk.length : newline;
      if (end > start) this.take(chunk.subarray(start, end));
      if (newline === -1) break;
      this.endLine();
      start = newline + 1;
    }
    if (this.skip) this.handlers.skipping(this.skip);
  }

  /** Drops what is held (the stream ended). */
  clear(): void {
    this.parts = [];
    this.length = 0;
    this.skip = undefined;
  }

  private take(part: Buffer): void {
    this.length += part.length;
    if (this.skip) {
      this.skip.bytes = this.length;
      this.skip.tail = lastBytes([this.skip.tail, part]);
      return;
    }
    if (this.length <= this.max) {
      this.parts.push(part);
      return;
    }
    // Past the bound: keep both ends only.
    const all = [...this.parts, part];
    this.parts = [];
    this.skip = { bytes: this.length, head: firstBytes(all), tail: lastBytes(all) };
    this.handlers.overflowed(this.skip);
  }

  private endLine(): void {
    const skipped = this.skip;
    const parts = this.parts;
    const length = this.length;
    this.clear();
    if (skipped) {
      this.handlers.skipped(skipped);
      return;
    }
    let line = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, length);
    if (line.at(-1) === 13) line = line.subarray(0, -1);
    this.handlers.line(line);
  }
}

function firstBytes(parts: Buffer[]): Buffer {
  const out: Buffer[] = [];
  let left = EDGE_BYTES;
  for (const part of parts) {
    if (left <= 0) break;
    out.push(part.subarray(0, left));
    left -= part.length;
  }
  return Buffer.concat(out);
}

function lastBytes(parts: Buffer[]): Buffer {
  const out: Buffer[] = [];
  let left = EDGE_BYTES;
  for (let i = parts.length - 1; i >= 0 && left > 0; i -= 1) {
    const part = parts[i] as Buffer;
    out.unshift(part.subarray(Math.max(0, part.length - left)));
    left -= part.length;
  }
  return Buffer.concat(out);
}
