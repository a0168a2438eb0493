/**
 * An OTLP/HTTP trace receiver inside the test process, standing in for a collector: node:http on
 * 127.0.0.1 (a random port), `POST /v1/traces` in both encodings the exporters speak,
 * `application/x-protobuf` (http/protobuf, the default) and `application/json` (http/json). It
 * flattens every span it is sent into `spans` and answers 200 with an empty
 * ExportTraceServiceResponse (zero protobuf bytes, or `{}`), as a collector does.
 *
 *   const receiver = await startOtlpReceiver();
 *   // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = `${receiver.url}/v1/traces`
 *   const spans = await receiver.waitFor((all) => all.some((s) => s.name === 'x'), 30_000);
 *   await receiver.close();
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import * as z from 'zod';
import { type AttributeValue, type DecodedSpan, decodeTraceRequest } from './otlp-protobuf.ts';

export type { AttributeValue };

export type SpanKindName =
  | 'UNSPECIFIED'
  | 'INTERNAL'
  | 'SERVER'
  | 'CLIENT'
  | 'PRODUCER'
  | 'CONSUMER';
export type StatusCodeName = 'UNSET' | 'OK' | 'ERROR';

/** OTLP's numbers (not @opentelemetry/api's SpanKind, which starts at INTERNAL = 0). */
const KINDS: SpanKindName[] = [
  'UNSPECIFIED',
  'INTERNAL',
  'SERVER',
  'CLIENT',
  'PRODUCER',
  'CONSUMER',
];
const STATUS_CODES: StatusCodeName[] = ['UNSET', 'OK', 'ERROR'];

export interface ReceivedSpan {
  /** 32 lowercase hex digits. */
  traceId: string;
  /** 16 lowercase hex digits. */
  spanId: string;
  /** 16 lowercase hex digits; undefined for a root span. */
  parentSpanId: string | undefined;
  traceState: string | undefined;
  name: string;
  kind: SpanKindName;
  /** The resource's service.name. */
  service: string | undefined;
  /** The instrumentation scope's name (the tracer's). */
  scope: string;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, AttributeValue>;
  /** Resource attributes (service.name, service.version, …). */
  resource: Record<string, AttributeValue>;
  status: { code: StatusCodeName; message: string | undefined };
}

/** One export request as it arrived (for asserting the protocol, or that no header leaked). */
export interface ReceivedRequest {
  contentType: string;
  headers: Record<string, string | string[] | undefined>;
  spanCount: number;
}

export interface OtlpReceiver {
  /** The base URL, e.g. http://127.0.0.1:40123; spans go to `${url}/v1/traces`. */
  url: string;
  /** Every span received so far, in arrival order. */
  spans: ReceivedSpan[];
  requests: ReceivedRequest[];
  /** Export requests refused (bad body, wrong path or type), with the reason: tests assert it is empty. */
  rejected: string[];
  /**
   * Resolves with `spans` once `predicate(spans)` is true (checked now and after every export
   * request); rejects after `timeoutMs` naming the spans that did arrive.
   */
  waitFor(
    predicate: (spans: ReceivedSpan[]) => boolean,
    timeoutMs?: number,
  ): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

/** A collector's default request limit is 20 MiB; a test's batches are a few KiB, so 4 MiB. */
const MAX_BODY_BYTES = 4 << 20;
/** Past this many spans a test is exporting in a loop: the receiver refuses instead of growing. */
const MAX_SPANS = 20_000;

// OTLP JSON (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): ids in hex,
// 64-bit integers as decimal strings or numbers, enums as numbers.
const int64 = z.union([z.string().regex(/^-?\d+$/), z.number().int()]);
type JsonAnyValue = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  bytesValue?: string;
  arrayValue?: { values?: JsonAnyValue[] };
  kvlistValue?: { values?: JsonKeyValue[] };
};
type JsonKeyValue = { key: string; value?: JsonAnyValue };
const anyValue: z.ZodType<JsonAnyValue> = z.lazy(() =>
  z.object({
    stringValue: z.string().optional(),
    boolValue: z.boolean().optional(),
    intValue: int64.optional(),
    doubleValue: z.number().optional(),
    bytesValue: z.string().optional(),
    arrayValue: z.object({ values: z.array(anyValue).optional() }).optional(),
    kvlistValue: z.object({ values: z.array(keyValue).optional() }).optional(),
  }),
);
const keyValue: z.ZodType<JsonKeyValue> = z.lazy(() =>
  z.object({ key: z.string(), value: anyValue.optional() }),
);
const hexId = (digits: number) => z.string().regex(new RegExp(`^([0-9a-f]{${digits}})?$`, 'i'));
const jsonRequest = z.object({
  resourceSpans: z
    .array(
      z.object({
        resource: z.object({ attributes: z.array(keyValue).optional() }).optional(),
        scopeSpans: z
          .array(
            z.object({
              scope: z.object({ name: z.string().optional() }).optional(),
              spans: z
                .array(
                  z.object({
                    traceId: hexId(32),
                    spanId: hexId(16),
                    parentSpanId: hexId(16).optional(),
                    traceState: z.string().optional(),
                    name: z.string(),
                    kind: z.number().int().min(0).max(5).optional(),
                    startTimeUnixNano: int64,
                    endTimeUnixNano: int64,
                    attributes: z.array(keyValue).optional(),
                    status: z
                      .object({
                        code: z.number().int().min(0).max(2).optional(),
                        message: z.string().optional(),
                      })
                      .optional(),
                  }),
                )
                .optional(),
            }),
          )
          .optional(),
      }),
    )
    .optional(),
});

function jsonValue(value: JsonAnyValue | undefined): AttributeValue {
  if (!value) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.bytesValue !== undefined)
    return new Uint8Array(Buffer.from(value.bytesValue, 'base64'));
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(jsonValue);
  if (value.kvlistValue) return jsonAttributes(value.kvlistValue.values);
  return null;
}

function jsonAttributes(list: JsonKeyValue[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const { key, value } of list ?? []) out[key] = jsonValue(value);
  return out;
}

function decodeJson(text: string): DecodedSpan[] {
  const request = jsonRequest.parse(JSON.parse(text));
  const spans: DecodedSpan[] = [];
  for (const rs of request.resourceSpans ?? []) {
    const resource = jsonAttributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        spans.push({
          traceId: s.traceId.toLowerCase(),
          spanId: s.spanId.toLowerCase(),
          parentSpanId: s.parentSpanId ? s.parentSpanId.toLowerCase() : undefined,
          traceState: s.traceState || undefined,
          name: s.name,
          kind: s.kind ?? 0,
          startNs: BigInt(s.startTimeUnixNano),
          endNs: BigInt(s.endTimeUnixNano),
          attributes: jsonAttributes(s.attributes),
          statusCode: s.status?.code ?? 0,
          statusMessage: s.status?.message || undefined,
          scope: ss.scope?.name ?? '',
          resource,
        });
      }
    }
  }
  return spans;
}

function flatten(s: DecodedSpan): ReceivedSpan {
  const service = s.resource['service.name'];
  return {
    traceId: s.traceId,
    spanId: s.spanId,
    parentSpanId: s.parentSpanId,
    traceState: s.traceState,
    name: s.name,
    kind: KINDS[s.kind] ?? 'UNSPECIFIED',
    service: typeof service === 'string' ? service : undefined,
    scope: s.scope,
    startNs: s.startNs,
    endNs: s.endNs,
    attributes: s.attributes,
    resource: s.resource,
    status: { code: STATUS_CODES[s.statusCode] ?? 'UNSET', message: s.statusMessage },
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error(`body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const body = Buffer.concat(chunks);
  // OTEL_EXPORTER_OTLP_COMPRESSION=gzip; the output is bounded like the input.
  return req.headers['content-encoding'] === 'gzip'
    ? gunzipSync(body, { maxOutputLength: MAX_BODY_BYTES })
    : body;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: ReceivedRequest[] = [];
  const rejected: string[] = [];
  const waiters = new Set<() => void>();

  const refuse = (res: ServerResponse, status: number, reason: string) => {
    rejected.push(reason);
    res.writeHead(status, { 'content-type': 'text/plain' }).end(reason);
  };

  const http = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://receiver').pathname;
    if (req.method !== 'POST' || path !== '/v1/traces')
      return refuse(res, 404, `${req.method} ${path}: expected POST /v1/traces`);
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    let decoded: DecodedSpan[];
    try {
      const body = await readBody(req);
      if (contentType === 'application/x-protobuf') decoded = decodeTraceRequest(body);
      else if (contentType === 'application/json') decoded = decodeJson(body.toString('utf8'));
      else
        return refuse(
          res,
          415,
          `content-type ${contentType || '(none)'}: expected application/x-protobuf or application/json`,
        );
    } catch (error) {
      return refuse(res, 400, `${contentType}: ${(error as Error).message.slice(0, 500)}`);
    }
    if (spans.length + decoded.length > MAX_SPANS)
      return refuse(res, 413, `more than ${MAX_SPANS} spans received`);
    spans.push(...decoded.map(flatten));
    requests.push({ contentType, headers: { ...req.headers }, spanCount: decoded.length });
    // An empty ExportTraceServiceResponse: no partial_success means every span was accepted.
    if (contentType === 'application/json')
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    for (const wake of waiters) wake();
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests,
    rejected,
    waitFor(predicate, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate(spans)) return false;
          finish();
          resolve(spans);
          return true;
        };
        const timer = setTimeout(() => {
          finish();
          const names = spans.map((s) => `${s.service}:${s.name}`).join(', ') || '(none)';
          reject(
            new Error(
              `OTLP receiver: no match after ${timeoutMs} ms; ${spans.length} spans received: ${names}` +
                (rejected.length > 0 ? `; rejected: ${rejected.join('; ')}` : ''),
            ),
          );
        }, timeoutMs);
        const wake = () => {
          check();
        };
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(wake);
        };
        if (!check()) waiters.add(wake);
      });
    },
    async close() {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}
