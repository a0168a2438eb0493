import http, {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { rootCause } from '../net/root-cause.ts';
import { pinnedLookup } from '../net/ssrf.ts';
import {
  authenticate,
  checkAddresses,
  grantFor,
  isRefusal,
  mtlsFor,
  type ProxyContext,
  targetText,
} from './admit.ts';
import { Meter } from './meter.ts';
import { type Refusal, refusals, writeResponseRefusal } from './refusal.ts';
import { parseHttpTarget } from './target.ts';
import type { TunnelHooks } from './tunnel.ts';

/**
 * A plain-HTTP request in absolute form (`GET http://host/path`): checked like a tunnel, then
 * sent with node:http to the pinned address (the Host header kept, the proxy's own and the
 * hop-by-hop headers dropped), bodies streamed and capped both ways, one record per request.
 * For a host the grant gives a client certificate (mTLS), the proxy sends it over TLS with that
 * certificate instead: the integration asks for http://host/ and never holds the key.
 */

/** RFC 9110 §7.6.1 hop-by-hop fields, and the proxy's own. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function endToEnd(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const listed = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((token) => token.trim().toLowerCase())
      .filter(Boolean),
  );
  const kept: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name)) continue;
    kept[name] = value;
  }
  return kept;
}

export async function handleRequest(
  ctx: ProxyContext,
  hooks: TunnelHooks,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const startedAt = new Date();
  req.on('error', (error) => ctx.log.debug({ err: error }, 'egress client request error'));
  res.on('error', (error) => ctx.log.debug({ err: error }, 'egress client response error'));
  const parsed = parseHttpTarget(req.url);
  let upstreamRequest: http.ClientRequest | undefined;
  const meter = new Meter(
    ctx,
    {
      integration: undefined,
      taskId: undefined,
      kind: 'http',
      host: typeof parsed === 'string' ? String(req.url ?? '').slice(0, 300) : parsed.host,
      port: typeof parsed === 'string' ? 0 : parsed.port,
      startedAt,
    },
    (what) => {
      writeResponseRefusal(res, refusals.limit(what));
      upstreamRequest?.destroy();
    },
  );
  const refuse = (refusal: Refusal) => meter.refuse(refusal, (r) => writeResponseRefusal(res, r));
  // A throw anywhere below still releases the slot and writes the record.
  try {
    const identity = authenticate(ctx, req.headers['proxy-authorization']);
    if (isRefusal(identity)) return refuse(identity);
    meter.start.integration = identity.integration;
    meter.start.taskId = identity.taskId;
    if (typeof parsed === 'string') return refuse(refusals.badRequest(parsed));
    // A host with a client certificate is reached over TLS: 443 unless the request named a port.
    const known = ctx.grantOf(identity.integration);
    const mtls = known && mtlsFor(known, parsed.host, parsed.explicitPort ?? 443);
    const target = { host: parsed.host, port: parsed.explicitPort ?? (mtls ? 443 : 80) };
    meter.start.port = target.port;
    const grant = grantFor(ctx, identity, target);
    if (isRefusal(grant)) return refuse(grant);
    const busy = ctx.slots.acquire(identity.integration);
    if (busy) return refuse(busy);
    meter.onFinish(() => ctx.slots.release(identity.integration));
    hooks.live(meter);

    const checked = await checkAddresses(ctx, identity, grant, target);
    if (!checked.ok) return refuse(checked.refusal);
    if (res.destroyed || meter.done) return meter.finish('failed', 'connect_failed');
    meter.address = checked.addresses[0]?.address;
    meter.mtls = mtls !== undefined;
    meter.arm();

    const bare = target.host.startsWith('[') ? target.host.slice(1, -1) : target.host;
    const common = {
      host: bare,
      port: checked.port,
      method: req.method,
      path: parsed.path,
      headers: endToEnd(req.headers),
      lookup: pinnedLookup(checked.addresses),
      agent: false as const,
    };
    let upstream: http.ClientRequest;
    try {
      upstream = mtls
        ? https.request({
            ...common,
            cert: mtls.certificate,
            key: mtls.key,
            ...(mtls.ca === undefined ? {} : { ca: mtls.ca }),
            // SNI is a name, never an address (RFC 6066 §3).
            ...(bare === checked.addresses[0]?.address ? {} : { servername: bare }),
          })
        : http.request(common);
    } catch (error) {
      // A PEM that does not load (mTLS) or a header Node will not send: nothing was sent.
      return refuse(refusals.connectFailed(targetText(target), rootCause(error)));
    }
    upstreamRequest = upstream;
    meter.onFinish(() => {
      if (!upstream.destroyed) upstream.destroy();
    });

    // connectTimeoutMs covers resolving and connecting (and the TLS handshake) together.
    const connectTimer = setTimeout(
      () => {
        if (meter.done) return;
        upstream.destroy();
        refuse(refusals.connectTimeout(targetText(target), ctx.limits.connectTimeoutMs));
      },
      Math.max(1, ctx.limits.connectTimeoutMs - (Date.now() - startedAt.getTime())),
    );
    connectTimer.unref();
    meter.onFinish(() => clearTimeout(connectTimer));
    upstream.on('socket', (socket: net.Socket) => {
      hooks.track(socket);
      socket.once('connect', () => {
        meter.address = socket.remoteAddress ?? meter.address;
      });
      socket.once(mtls ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
    });

    upstream.on('error', (error) => {
      if (meter.done) return;
      if (!res.headersSent) {
        refuse(refusals.connectFailed(targetText(target), rootCause(error)));
        return;
      }
      ctx.log.debug({ err: error, host: target.host }, 'egress upstream failed mid-response');
      res.destroy();
      meter.finish('allowed', undefined);
    });

    upstream.on('response', (answer) => {
      clearTimeout(connectTimer);
      answer.on('error', (error) => {
        ctx.log.debug({ err: error, host: target.host }, 'egress upstream response error');
        res.destroy();
        meter.finish('allowed', undefined);
      });
      if (meter.done) {
        answer.destroy();
        return;
      }
      try {
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers));
      } catch (error) {
        // A status line or header Node refuses to send on (it parsed it, but the rules differ).
        answer.destroy();
        refuse(refusals.connectFailed(targetText(target), `unusable answer: ${rootCause(error)}`));
        return;
      }
      answer.on('data', (chunk: Buffer) => {
        const part = meter.pass('down', chunk);
        if (part.length === 0 || res.destroyed) return;
        if (!res.write(part)) {
          answer.pause();
          res.once('drain', () => answer.resume());
        }
      });
      // Cut by maxBytes: the limit destroys the response, a clean end would pass a truncated
      // body off as whole (chunked encoding).
      answer.on('end', () => {
        if (!meter.done && !meter.capped) res.end();
      });
    });

    res.on('finish', () => meter.finish('allowed', undefined));
    // The client gone first (not after the answer's end): stop the upstream as well.
    res.on('close', () => meter.finish('allowed', undefined));

    req.on('data', (chunk: Buffer) => {
      const part = meter.pass('up', chunk);
      if (part.length === 0 || upstream.destroyed) return;
      if (!upstream.write(part)) {
        req.pause();
        upstream.once('drain', () => req.resume());
      }
    });
    req.on('end', () => {
      if (!upstream.destroyed && !meter.capped) upstream.end();
    });
    if (req.readableEnded) upstream.end();
  } catch (error) {
    ctx.log.error({ err: error, host: meter.start.host }, 'egress connection failed');
    res.destroy();
    meter.finish('failed', 'connect_failed');
  }
}
