import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { SwitchboardError } from '../errors.ts';
import { rootCause } from '../net/root-cause.ts';
import {
  bareHost,
  checkedAddresses,
  originOf,
  parseTarget,
  pinnedLookup,
  type ResolvedAddress,
} from '../net/ssrf.ts';
import {
  inSpan,
  SpanKind,
  SpanStatusCode,
  traceHeaders,
  tracingEnabled,
} from '../telemetry/spans.ts';
import { isPostFailure } from './errors.ts';

export type { ResolvedAddress } from '../net/ssrf.ts';

/**
 * The one outbound HTTP client for built-in `webhook` dispatches and event subscriptions. Every
 * hop (the first URL and each redirect) is resolved and checked before a socket is opened, and
 * the socket is opened to the address that was checked: a DNS answer that changes between the
 * check and the connect (rebinding) cannot redirect it. node:http rather than fetch because
 * Node 20's fetch takes no per-request lookup or agent (REFERENCES.md §G).
 */

export interface PostOptions {
  /** http: or https: only, no credentials in the URL. */
  url: string;
  /** Sent as is, content-type application/json. */
  body: string;
  headers?: Record<string, string>;
  allowHosts: readonly string[];
  /** Default 10 000 ms; covers the whole exchange including DNS and redirects. */
  timeoutMs?: number;
  /** Default 1 MiB: the body read is capped, the request aborted past it. */
  maxResponseBytes?: number;
  /** Default 3. */
  maxRedirects?: number;
  /** For tests: resolve a host name; default dns.promises.lookup(host, {all: true}). */
  lookup?: (hostname: string) => Promise<ResolvedAddress[]>;
}

export interface PostResult {
  status: number;
  headers: Record<string, string>;
  body: string;
  retryAfterMs?: number;
  /** The URL that answered (after redirects). */
  url: string;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
export const DEFAULT_MAX_REDIRECTS = 3;
/** A receiver asking for more than a day is treated as asking for a day. */
const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;
/** Headers the client sets itself; a caller's value would desynchronise the framing. */
const OWN_HEADERS = new Set([
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
]);
/** Dropped when a redirect leaves the origin, as fetch does (a bearer token is for one host). */
const ORIGIN_BOUND_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

/**
 * A CLIENT span per post (OpenTelemetry's HTTP client conventions) with the W3C trace context
 * in its headers. The URL's path and query are not recorded: Slack-style incoming webhooks
 * carry their secret there.
 */
export function postJson(options: PostOptions): Promise<PostResult> {
  if (!tracingEnabled()) return postJsonNow(options);
  let host = '';
  try {
    host = new URL(options.url).hostname;
  } catch {}
  return inSpan(
    'POST',
    {
      kind: SpanKind.CLIENT,
      attributes: { 'http.request.method': 'POST', 'server.address': host.slice(0, 253) },
    },
    async (span) => {
      const result = await postJsonNow({
        ...options,
        headers: { ...options.headers, ...traceHeaders() },
      });
      span.setAttribute('http.response.status_code', result.status);
      if (result.status >= 400) span.setStatus({ code: SpanStatusCode.ERROR });
      return result;
    },
  );
}

async function postJsonNow(options: PostOptions): Promise<PostResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let url = parseTarget(options.url);
  let headers = ownHeaders(options.headers ?? {}, options.body);
  try {
    for (let redirects = 0; ; redirects += 1) {
      const addresses = await abortable(
        checkedAddresses(url, options.allowHosts, options.lookup),
        controller.signal,
      );
      const response = await send(url, addresses, headers, options, controller.signal);
      const location = response.headers.location;
      // Only 307 and 308 are followed: they oblige the client to repeat the POST with its body.
      // 301/302/303 would turn it into a GET without the payload (what browsers and fetch do),
      // so they come back as the answer: a receiver that moved should be re-registered, and the
      // outbox records the 3xx instead of a delivery that silently dropped its body.
      if ((response.status === 307 || response.status === 308) && location) {
        if (redirects >= maxRedirects) {
          throw new SwitchboardError(
            'too_many_redirects',
            `${originOf(url)}: more than ${maxRedirects} redirects`,
          );
        }
        const next = parseTarget(new URL(location, url).href, url);
        if (next.origin !== url.origin) {
          headers = Object.fromEntries(
            Object.entries(headers).filter(([name]) => !ORIGIN_BOUND_HEADERS.has(name)),
          );
        }
        url = next;
        continue;
      }
      const retryAfter = response.headers['retry-after'];
      const retryAfterMs = retryAfter === undefined ? undefined : parseRetryAfter(retryAfter);
      return {
        ...response,
        url: url.href,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    }
  } catch (error) {
    // Past the deadline a failure is the deadline's doing (an aborted socket, a cut body).
    if (controller.signal.aborted && !(isPostFailure(error) && error.code !== 'network')) {
      throw new SwitchboardError('timeout', `${originOf(url)}: no answer within ${timeoutMs} ms`);
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** `Retry-After: 120` or an HTTP date, as milliseconds from `now`, between 0 and 24 h. */
export function parseRetryAfter(value: string, now: number = Date.now()): number | undefined {
  const text = value.trim();
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    // An HTTP date names its day and month ("Wed, 21 Oct 2015 07:28:00 GMT"); Date.parse alone
    // would also take "-5" or "2026" as a date.
    const at = /[a-z]{3}/i.test(text) ? Date.parse(text) : Number.NaN;
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

function ownHeaders(given: Record<string, string>, body: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(given)) {
    const lower = name.toLowerCase();
    if (!OWN_HEADERS.has(lower)) headers[lower] = value;
  }
  headers['content-type'] = 'application/json';
  headers['content-length'] = String(Buffer.byteLength(body));
  return headers;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function send(
  url: URL,
  addresses: ResolvedAddress[],
  headers: Record<string, string>,
  options: PostOptions,
  signal: AbortSignal,
): Promise<Answer> {
  const limit = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const host = bareHost(url);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<Answer>((resolve, reject) => {
    const request = client.request(
      {
        method: 'POST',
        host,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        headers,
        // A fresh connection per request: no pooled socket resolved under other rules.
        agent: false,
        lookup: pinnedLookup(addresses),
        ...(url.protocol === 'https:' && isIP(host) === 0 ? { servername: host } : {}),
        signal,
      },
      (response) =>
        readAnswer(response, url, limit, signal, () => request.destroy()).then(resolve, reject),
    );
    request.on('error', (error) => {
      if (isAbort(error)) reject(error);
      else {
        reject(
          new SwitchboardError('network', `${originOf(url)}: ${rootCause(error)}`, {
            cause: error,
          }),
        );
      }
    });
    request.end(options.body);
  });
}

function readAnswer(
  response: IncomingMessage,
  url: URL,
  limit: number,
  signal: AbortSignal,
  abort: () => void,
): Promise<Answer> {
  const status = response.statusCode ?? 0;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  // Not retryable: the receiver would answer the same way, and it probably took the delivery
  // already (the status is in details), so sending it again would only duplicate it.
  const tooLarge = () =>
    new SwitchboardError(
      'response_too_large',
      `${originOf(url)}: the response (status ${status}) is over ${limit} bytes`,
      { details: { status } },
    );
  return new Promise<Answer>((resolve, reject) => {
    const declared = Number(headers['content-length']);
    if (declared > limit) {
      abort();
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        abort();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    response.on('end', () =>
      resolve({ status, headers, body: Buffer.concat(chunks).toString('utf8') }),
    );
    const cut = (error?: Error) =>
      reject(
        new SwitchboardError(
          'network',
          `${originOf(url)}: the connection closed before the response ended`,
          { cause: error },
        ),
      );
    response.on('error', cut);
    response.on('close', () => {
      if (!response.complete) cut();
    });
    signal.addEventListener('abort', () => cut(), { once: true });
  });
}

/** Races a step with the overall deadline (a DNS lookup takes no signal). */
function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new DOMException('aborted', 'AbortError'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new DOMException('aborted', 'AbortError'));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}
