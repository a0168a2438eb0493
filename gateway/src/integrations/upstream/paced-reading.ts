import type { Readable } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/client';
import type { FloodMeter } from './flood-meter.ts';

/**
 * Reads a stdio server's notifications at the pace its flood meter allows: once the
 * integration is over MAX_NOTIFICATIONS_PER_S in a second, its stdout is paused until the
 * next second, so the pipe fills and the server waits on its own writes. Parsing is what a
 * flood costs the gateway (~14 µs a message in the SDK's ReadBuffer alone, 70 ms for 5,000 on
 * our 2 cores), so a flooder is slowed down where it starts, not after each message was read,
 * validated and dispatched; what the other integrations' calls share, the event loop, stays
 * theirs. Nothing is dropped: responses behind the flood arrive, later.
 *
 * Call after client.connect (which installs the transport's onmessage).
 */
export function paceNotifications(stdout: Readable, transport: Transport, meter: FloodMeter): void {
  const deliver = transport.onmessage;
  if (!deliver) return;
  let paused: NodeJS.Timeout | undefined;
  transport.onmessage = (message, extra) => {
    if (!('id' in message) && 'method' in message && !meter.notification() && !paused) {
      stdout.pause();
      paused = setTimeout(() => {
        paused = undefined;
        stdout.resume();
      }, meter.untilNextSecond());
      paused.unref();
    }
    deliver(message, extra);
  };
}
