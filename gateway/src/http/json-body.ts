import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { resumeRequest, tracingEnabled } from '../telemetry/spans.ts';

/**
 * The MCP routes' body reader (REFERENCES §A2.4). For the body every MCP client sends — a POST
 * with `Content-Type: application/json` (optionally `; charset=utf-8`), a Content-Length within
 * the limit and no Content-Encoding — it reads the bytes and runs JSON.parse, nothing else.
 * express.json (body-parser, raw-body, iconv-lite, type-is, content-type) did the same job for
 * ~40 µs more per call in the bench profile (test/bench/HISTORY.md). Anything else (chunked, compressed,
 * another charset, empty, over the limit) goes to `fallback`, express.json itself, so
 * those answers do not change. A parse failure is reported as body-parser reports it
 * (`type: 'entity.parse.failed'`, status 400), which the route turns into JSON-RPC -32700.
 */
export function leanJson(limit: number, fallback: RequestHandler): RequestHandler {
  return (req: Request, res: Response, parsed: NextFunction) => {
    // Called from the body stream's 'end' event: back in the request's span (telemetry/spans.ts).
    const next = tracingEnabled()
      ? (error?: unknown) => resumeRequest(res, () => parsed(error))
      : parsed;
    const headers = req.headers;
    const length = headers['content-length'];
    const size = length === undefined ? Number.NaN : Number(length);
    if (
      req.method !== 'POST' ||
      !isPlainJson(headers['content-type']) ||
      headers['content-encoding'] !== undefined ||
      headers['transfer-encoding'] !== undefined ||
      !Number.isSafeInteger(size) ||
      size <= 0 ||
      size > limit
    ) {
      fallback(req, res, next);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('error', next);
    req.once('end', () => {
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const text = bytes.toString('utf8');
      try {
        // A UTF-8 BOM is dropped, as body-parser's decoder (iconv-lite) drops it.
        req.body = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
      } catch {
        next(parseFailed());
        return;
      }
      next();
    });
  };
}

function isPlainJson(type: string | undefined): boolean {
  if (type === undefined) return false;
  const lower = type.toLowerCase();
  return lower === 'application/json' || lower === 'application/json; charset=utf-8';
}

function parseFailed(): Error & { type: string; status: number } {
  return Object.assign(new Error('invalid JSON body'), {
    type: 'entity.parse.failed',
    status: 400,
  });
}
