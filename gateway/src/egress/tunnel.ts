import type { IncomingMessage } from 'node:http';
import type net from 'node:net';
import {
  authenticate,
  checkAddresses,
  grantFor,
  isRefusal,
  type ProxyContext,
  targetText,
} from './admit.ts';
import { connectPinned } from './connect.ts';
import { type Direction, Meter } from './meter.ts';
import { type Refusal, refusals, writeSocketRefusal } from './refusal.ts';
import { parseConnectTarget } from './target.ts';

/**
 * `CONNECT host:port`: checked (admit.ts), then a byte pipe to the pinned address, counted both
 * ways and capped (meter.ts). The proxy sees only the TLS inside, never the requests.
 */

export interface TunnelHooks {
  /** Tracks a socket so that the proxy's close() can destroy it. */
  track(socket: net.Socket): void;
  /** Tracks a live meter so that close() finishes it. */
  live(meter: Meter): void;
}

export async function handleConnect(
  ctx: ProxyContext,
  hooks: TunnelHooks,
  req: IncomingMessage,
  client: net.Socket,
  head: Buffer,
): Promise<void> {
  const startedAt = new Date();
  client.on('error', (error) => ctx.log.debug({ err: error }, 'egress client socket error'));
  const parsed = parseConnectTarget(req.url);
  const target =
    typeof parsed === 'string' ? { host: String(req.url ?? '').slice(0, 300), port: 0 } : parsed;
  const meter = new Meter(
    ctx,
    { integration: undefined, taskId: undefined, kind: 'connect', ...target, startedAt },
    () => {},
  );
  const refuse = (refusal: Refusal) => meter.refuse(refusal, (r) => writeSocketRefusal(client, r));
  // A throw anywhere below still releases the slot and writes the record.
  try {
    const identity = authenticate(ctx, req.headers['proxy-authorization']);
    if (isRefusal(identity)) return refuse(identity);
    meter.start.integration = identity.integration;
    meter.start.taskId = identity.taskId;
    if (typeof parsed === 'string') return refuse(refusals.badRequest(parsed));
    const grant = grantFor(ctx, identity, parsed);
    if (isRefusal(grant)) return refuse(grant);
    const busy = ctx.slots.acquire(identity.integration);
    if (busy) return refuse(busy);
    meter.onFinish(() => ctx.slots.release(identity.integration));
    hooks.live(meter);

    const checked = await checkAddresses(ctx, identity, grant, parsed);
    if (!checked.ok) return refuse(checked.refusal);
    if (client.destroyed) return meter.finish('failed', 'connect_failed');
    const connected = await connectPinned(
      checked.addresses,
      checked.port,
      targetText(parsed),
      // connectTimeoutMs covers resolving and connecting together.
      Math.max(1, ctx.limits.connectTimeoutMs - (Date.now() - startedAt.getTime())),
      hooks.track,
    );
    if (!connected.ok) return refuse(connected.refusal);
    const upstream = connected.socket;
    meter.address = connected.address;
    if (meter.done || client.destroyed) {
      upstream.destroy();
      return meter.finish('failed', 'connect_failed');
    }
    pipeTunnel(ctx, meter, client, upstream, head);
  } catch (error) {
    ctx.log.error({ err: error, host: meter.start.host }, 'egress connection failed');
    client.destroy();
    meter.finish('failed', 'connect_failed');
  }
}

function pipeTunnel(
  ctx: ProxyContext,
  meter: Meter,
  client: net.Socket,
  upstream: net.Socket,
  head: Buffer,
): void {
  meter.onFinish(() => {
    client.destroy();
    upstream.destroy();
  });
  upstream.on('error', (error) => {
    ctx.log.debug({ err: error, host: meter.start.host }, 'egress upstream socket error');
    meter.finish('allowed', undefined);
  });
  client.on('error', () => meter.finish('allowed', undefined));
  meter.arm();
  client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  const forward = (from: net.Socket, to: net.Socket, direction: Direction) => {
    from.on('data', (chunk: Buffer) => {
      const part = meter.pass(direction, chunk);
      if (part.length === 0 || to.destroyed) return;
      if (!to.write(part)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    // A half-close passes on (a client that sends its request and ends still gets the answer).
    // After a byte cap, no clean end: the limit destroys both sides.
    from.on('end', () => {
      if (!to.destroyed && !meter.capped) to.end();
    });
  };
  if (head.length > 0) {
    const part = meter.pass('up', head);
    if (part.length > 0) upstream.write(part);
  }
  forward(client, upstream, 'up');
  forward(upstream, client, 'down');
  // One side gone ends the other's writing; both gone ends the record. The idle cap ends a
  // peer that never closes its half.
  let closed = 0;
  const onClose = (other: net.Socket) => () => {
    closed += 1;
    if (closed === 2) meter.finish('allowed', undefined);
    else if (!other.destroyed) other.end();
  };
  client.once('close', onClose(upstream));
  upstream.once('close', onClose(client));
}
