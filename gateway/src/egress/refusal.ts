import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type AddressClass, describeClass } from '../net/ssrf.ts';
import type { EgressOutcome, EgressReason } from './types.ts';

/**
 * What the proxy answers instead of a connection: a status, the reason (audit, metrics, the
 * `X-Switchboard-Egress` header) and a text/plain body naming the rule an operator changes. The
 * body is read by whoever debugs the integration (its logs show it), so it says what to edit.
 */
export interface Refusal {
  status: number;
  outcome: Exclude<EgressOutcome, 'allowed'>;
  reason: EgressReason;
  message: string;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  407: 'Proxy Authentication Required',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  502: 'Bad Gateway',
  504: 'Gateway Timeout',
};

export const REALM = 'switchboard-egress';
const LINGER_MS = 2_000;

const refused = (status: number, reason: EgressReason, message: string): Refusal => ({
  status,
  outcome: 'refused',
  reason,
  message: `egress refused: ${message}`,
});

const failed = (status: number, reason: EgressReason, message: string): Refusal => ({
  status,
  outcome: 'failed',
  reason,
  message: `egress failed: ${message}`,
});

export const refusals = {
  unauthenticated: () =>
    refused(
      407,
      'unauthenticated',
      'no valid proxy credentials; use the proxy URL (HTTPS_PROXY) the gateway gave this integration',
    ),
  badRequest: (what: string) => refused(400, 'bad_request', what),
  notGranted: (target: string, integration: string) =>
    refused(
      403,
      'host_not_granted',
      `${target} is not granted to integration "${integration}"; add it to policy integrations.${integration}.outboundHosts (and the manifest's outboundHosts)`,
    ),
  privateAddress: (
    target: string,
    host: string,
    address: string,
    kind: AddressClass,
    integration: string,
  ) => {
    const what =
      host === address || host === `[${address}]`
        ? `${target} is ${describeClass(kind)}`
        : `${target} resolves to ${address}, ${describeClass(kind)}`;
    return refused(
      403,
      'address_refused',
      `${what}; grant it in policy integrations.${integration}.egress.privateHosts`,
    );
  },
  gatewayAddress: (target: string, address: string, port: number) =>
    refused(
      403,
      'gateway_address',
      `${target} (${address} port ${port}) is one of the gateway's own listeners, which no grant opens`,
    ),
  perIntegration: (integration: string, max: number) =>
    refused(
      429,
      'rate_limited',
      `integration "${integration}" already has ${max} connections open through the proxy (SWITCHBOARD_EGRESS_MAX_CONNECTIONS)`,
    ),
  global: (max: number) =>
    refused(429, 'rate_limited', `the proxy has ${max} connections open, its global cap`),
  resolveFailed: (host: string, cause: string) =>
    failed(502, 'resolve_failed', `cannot resolve ${host}: ${cause}`),
  connectFailed: (target: string, cause: string) =>
    failed(502, 'connect_failed', `cannot connect to ${target}: ${cause}`),
  connectTimeout: (target: string, ms: number) =>
    failed(504, 'connect_failed', `${target} did not accept a connection within ${ms} ms`),
  limit: (what: string) => failed(504, 'limit_reached', what),
};

function headerLines(refusal: Refusal, body: Buffer): string[] {
  const lines = [
    `HTTP/1.1 ${refusal.status} ${STATUS_TEXT[refusal.status] ?? 'Error'}`,
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${body.length}`,
    `X-Switchboard-Egress: ${refusal.reason}`,
    'Connection: close',
  ];
  if (refusal.status === 407) lines.push(`Proxy-Authenticate: Basic realm="${REALM}"`);
  return lines;
}

/** Answers a CONNECT (a raw socket, no HTTP machinery left) and closes it. */
export function writeSocketRefusal(socket: Socket, refusal: Refusal): void {
  if (socket.destroyed || !socket.writable) return;
  const body = Buffer.from(`${refusal.message}\n`, 'utf8');
  socket.end(
    Buffer.concat([Buffer.from(`${headerLines(refusal, body).join('\r\n')}\r\n\r\n`), body]),
  );
  // A client that never closes its half would hold the socket for ever; destroying at once could
  // reset the answer away (unread bytes of the client make the kernel send RST), so 2 s later.
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/** Answers a forwarded request; after its headers went out only destroying it tells the client. */
export function writeResponseRefusal(res: ServerResponse, refusal: Refusal): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = Buffer.from(`${refusal.message}\n`, 'utf8');
  const headers: Record<string, string | number> = {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': body.length,
    'X-Switchboard-Egress': refusal.reason,
    Connection: 'close',
  };
  if (refusal.status === 407) headers['Proxy-Authenticate'] = `Basic realm="${REALM}"`;
  res.writeHead(refusal.status, headers);
  res.end(body);
}
