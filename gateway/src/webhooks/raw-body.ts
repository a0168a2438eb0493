import type { IncomingMessage } from 'node:http';
import { SwitchboardError } from '../errors.ts';

/**
 * The request body as the sender signed it: raw bytes, capped. A Content-Length over the cap is
 * refused before a byte is read; a chunked body is counted as it arrives and the read stops at
 * the first byte past the cap, so a sender cannot make the gateway buffer more than `limit`.
 */

export const DEFAULT_WEBHOOK_BODY_BYTES = 1024 * 1024;

const tooLarge = (limit: number) =>
  new SwitchboardError('payload_too_large', `webhook body is larger than ${limit} bytes`, {
    details: { limit },
  });

export function readRawBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  if (
    req.headers['content-encoding'] !== undefined &&
    req.headers['content-encoding'] !== 'identity'
  ) {
    // The signature covers the bytes as sent; decompressing first would sign-check other bytes.
    return Promise.reject(
      new SwitchboardError('unsupported_encoding', 'webhook bodies must not be compressed'),
    );
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume(); // drain, so the 413 can be read by the sender
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const fail = (error: Error) => {
      if (done) return;
      done = true;
      reject(error);
    };
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        fail(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.once('error', fail);
    req.once('aborted', () => fail(new SwitchboardError('aborted', 'request aborted')));
    req.once('end', () => {
      if (done) return;
      done = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
  });
}
