/**
 * mcp-bench.ts --tracing: where the measured gateway exports its spans. An OTLP/HTTP endpoint in
 * the bench process that answers `POST /v1/traces` 200 with an empty body (zero protobuf bytes is
 * an empty ExportTraceServiceResponse, what a collector answers) and only counts requests and
 * bytes: it decodes nothing, so its cost is reading the socket and nothing of the measured
 * gateway's work is moved into it. Bodies are read and discarded chunk by chunk, so memory stays
 * at one chunk per open request whatever the gateway sends. test/helpers/otlp-receiver.ts is the
 * decoding receiver the tests use; decoding every span here would load the generator instead.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OtlpSink {
  /** The base URL (OTEL_EXPORTER_OTLP_ENDPOINT): the exporter appends /v1/traces. */
  url: string;
  counts(): { traceRequests: number; traceBytes: number; otherRequests: number };
  close(): Promise<void>;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  let traceRequests = 0;
  let traceBytes = 0;
  let otherRequests = 0;
  const server = createServer((req, res) => {
    const isTraces = req.method === 'POST' && req.url?.split('?')[0] === '/v1/traces';
    if (!isTraces) otherRequests += 1;
    req.on('data', (chunk: Buffer) => {
      if (isTraces) traceBytes += chunk.length;
    });
    req.on('end', () => {
      if (!isTraces) {
        res.writeHead(404).end();
        return;
      }
      traceRequests += 1;
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 }).end();
    });
  });
  // The exporter's keep-alive connections would hold close() open until they time out.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts: () => ({ traceRequests, traceBytes, otherRequests }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
