import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  validateHostHeader,
  validateOriginHeader,
} from '@modelcontextprotocol/server';

/** Same bound as the SDK's DEFAULT_MAX_REQUEST_BODY_SIZE (4 MiB); larger MCP posts get 413. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

type FetchHandler = (request: Request) => Promise<Response>;

function reject(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message } }));
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Serves a web-standard fetch handler on node:http (what `@modelcontextprotocol/node`'s
 * toNodeHandler would do; that package is not a dependency here). Host and Origin must be
 * loopback: DNS rebinding protection, since the endpoint has no auth of its own.
 */
export function nodeListener(origin: () => string, handle: FetchHandler) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const host = validateHostHeader(req.headers.host, localhostAllowedHostnames());
    if (!host.ok) return reject(res, 403, `Forbidden: ${host.message}`);
    const originCheck = validateOriginHeader(req.headers.origin, localhostAllowedOrigins());
    if (!originCheck.ok) return reject(res, 403, `Forbidden: ${originCheck.message}`);

    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const body = hasBody ? await readBody(req) : undefined;
    if (hasBody && body === undefined) return reject(res, 413, 'Request body too large');

    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (Array.isArray(value)) for (const v of value) headers.append(name, v);
      else if (value !== undefined) headers.set(name, value);
    }
    const aborted = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) aborted.abort();
    });
    const request = new Request(new URL(req.url ?? '/', origin()), {
      method: req.method,
      headers,
      body: body && body.length > 0 ? new Uint8Array(body) : undefined,
      signal: aborted.signal,
    });

    const response = await handle(request);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    if (!response.body) {
      res.end();
      return;
    }
    // SSE responses stay open while the handler streams; write each chunk as it arrives.
    try {
      for await (const chunk of response.body) res.write(chunk);
    } finally {
      res.end();
    }
  };
}
