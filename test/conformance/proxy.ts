import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The test-only loopback proxy in front of the gateway: the conformance suite has no option to
 * send a bearer token, and the gateway has no insecure mode, so this adds
 * `Authorization: Bearer <token>` to every request and passes everything else through as it
 * came, Host and Origin included. The gateway's public URL is this proxy's URL (as behind any
 * reverse proxy), so its Host/Origin checks and the token's audience see what the suite sent:
 * `dns-rebinding-protection` still tests the gateway, not the proxy. Responses, SSE streams
 * included, are piped through unbuffered; a client that goes away closes the upstream request.
 *
 * Each exchange is also recorded (JSON-RPC method, tool name, outcome) so the runner can show
 * which tool calls really reached the fixture: a scenario can "pass" on an error answer.
 *
 * On the aggregate `/mcp`, where the fixture's tools and prompts are `fixture__<name>`, the
 * runner sets a name prefix: the bare names the suite sends (tools/call, prompts/get, a prompt
 * completion's ref, and the Mcp-Name header that repeats them) get it, and nothing else changes, so the same scenarios exercise the
 * aggregate's routing instead of failing on a name. The recorded request is the one forwarded.
 */

/** One HTTP exchange through the proxy, as much as the runner needs to judge it. */
export interface Exchange {
  at: string;
  method: string;
  path: string;
  status: number;
  /** The JSON-RPC messages the client sent (request body), when it was JSON. */
  sent: unknown[];
  /** The JSON-RPC messages answered: the JSON body, or every SSE `data:` event parsed. */
  received: unknown[];
  /** Set when the body was not recorded whole (it is capped) or could not be parsed. */
  note?: string;
}

export interface AuthProxy {
  /** `http://127.0.0.1:<port>`: the base URL agents (the suite) use. */
  url: string;
  /** Where requests go from now on: the gateway's own listen URL, known once it has started. */
  setTarget(url: string): void;
  /** The bearer token added to every request from now on. */
  setToken(token: string): void;
  /** Prefix bare tool and prompt names in requests from now on (undefined: pass them as sent). */
  setNamePrefix(prefix: string | undefined): void;
  /** Exchanges recorded since the last call (and forgets them). */
  take(): Exchange[];
  close(): Promise<void>;
}

/** Headers that describe one hop, not the message (RFC 9110 §7.6.1); Node sets its own. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** A body larger than this is forwarded whole but recorded only in part (not parsed). */
const RECORD_LIMIT = 1024 * 1024;

function withoutHopByHop(headers: http.IncomingHttpHeaders | http.OutgoingHttpHeaders) {
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name.toLowerCase())) out[name] = value;
  }
  return out;
}

/** Accumulates up to RECORD_LIMIT bytes of a body that streams past. */
class Recorder {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;

  add(chunk: Buffer): void {
    if (this.size + chunk.length > RECORD_LIMIT) {
      this.truncated = true;
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

function parseMessages(text: string, contentType: string | undefined): unknown[] {
  if (text.trim() === '') return [];
  if (contentType?.includes('text/event-stream')) {
    const out: unknown[] = [];
    for (const event of text.split(/\r?\n\r?\n/)) {
      const data = event
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n');
      if (data === '') continue;
      try {
        out.push(JSON.parse(data));
      } catch {
        out.push({ unparsed: data });
      }
    }
    return out;
  }
  const parsed: unknown = JSON.parse(text);
  return Array.isArray(parsed) ? parsed : [parsed];
}

type Named = {
  method?: unknown;
  params?: { name?: unknown; ref?: { type?: unknown; name?: unknown } };
};

/**
 * The request body with `prefix` before every bare tool or prompt name it names, and the
 * renames made (bare name → prefixed), so a header repeating one of them can follow.
 */
export function prefixNames(
  body: string,
  prefix: string,
): { body: string; renamed: Map<string, string> } {
  const renamed = new Map<string, string>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { body, renamed }; // not JSON: the gateway answers it as it would anyway
  }
  const rename = (name: unknown): string | undefined => {
    if (typeof name !== 'string' || name.startsWith(prefix)) return undefined;
    renamed.set(name, `${prefix}${name}`);
    return `${prefix}${name}`;
  };
  for (const message of (Array.isArray(parsed) ? parsed : [parsed]) as Named[]) {
    const params = message?.params;
    if (!params || typeof params !== 'object') continue;
    if (message.method === 'tools/call' || message.method === 'prompts/get') {
      params.name = rename(params.name) ?? params.name;
    }
    const ref = params.ref;
    if (message.method === 'completion/complete' && ref?.type === 'ref/prompt') {
      ref.name = rename(ref.name) ?? ref.name;
    }
  }
  return { body: renamed.size === 0 ? body : JSON.stringify(parsed), renamed };
}

export async function startAuthProxy(): Promise<AuthProxy> {
  let target: URL | undefined;
  let token = '';
  let namePrefix: string | undefined;
  let exchanges: Exchange[] = [];

  const server = http.createServer((req, res) => {
    if (!target) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('gateway not started yet\n');
      return;
    }
    const sent = new Recorder();
    const received = new Recorder();
    const record = (status: number, contentType: string | undefined, note?: string) => {
      const exchange: Exchange = {
        at: new Date().toISOString(),
        method: req.method ?? '',
        path: req.url ?? '',
        status,
        sent: [],
        received: [],
      };
      const notes = note ? [note] : [];
      if (sent.truncated || received.truncated) notes.push('body over 1 MiB: not recorded');
      else {
        try {
          exchange.sent = parseMessages(sent.text(), req.headers['content-type']);
          exchange.received = parseMessages(received.text(), contentType);
        } catch {
          notes.push('body is not JSON');
        }
      }
      if (notes.length > 0) exchange.note = notes.join('; ');
      exchanges.push(exchange);
    };

    const upstream = http.request({
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: { ...withoutHopByHop(req.headers), authorization: `Bearer ${token}` },
    });
    upstream.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, withoutHopByHop(answer.headers));
      // SSE: the client must see the headers before the first event, which may be long after.
      res.flushHeaders();
      answer.on('data', (chunk: Buffer) => received.add(chunk));
      answer.pipe(res);
      let recorded = false;
      const once = (note?: string) => {
        if (recorded) return;
        recorded = true;
        record(answer.statusCode ?? 0, answer.headers['content-type'], note);
      };
      answer.on('end', () => once());
      res.on('close', () => {
        if (!answer.complete) {
          once('client closed before the end of the response');
          answer.destroy();
        }
      });
    });
    upstream.on('error', (error) => {
      record(502, undefined, `upstream error: ${error.message}`);
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' }).end(`proxy: ${error.message}\n`);
      } else res.destroy();
    });
    if (namePrefix === undefined) {
      req.on('data', (chunk: Buffer) => sent.add(chunk));
      req.pipe(upstream);
    } else {
      // The suite's requests are small: read whole, rename, send with its new length.
      const prefix = namePrefix;
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const { body: text, renamed } = prefixNames(Buffer.concat(chunks).toString('utf8'), prefix);
        const body = Buffer.from(text);
        sent.add(body);
        if (body.length > 0) upstream.setHeader('content-length', body.length);
        // 2026-07-28 repeats a tool's or prompt's name in Mcp-Name: it follows the body's.
        const named = req.headers['mcp-name'];
        if (typeof named === 'string' && renamed.has(named)) {
          upstream.setHeader('mcp-name', renamed.get(named)!);
        }
        upstream.end(body);
      });
    }
    res.on('close', () => {
      if (!upstream.writableFinished || !res.writableFinished) upstream.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    setTarget(url) {
      target = new URL(url);
    },
    setToken(value) {
      token = value;
    },
    setNamePrefix(prefix) {
      namePrefix = prefix;
    },
    take() {
      const out = exchanges;
      exchanges = [];
      return out;
    },
    close() {
      return new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
