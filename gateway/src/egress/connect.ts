import net from 'node:net';
import { rootCause } from '../net/root-cause.ts';
import type { ResolvedAddress } from '../net/ssrf.ts';
import { type Refusal, refusals } from './refusal.ts';

/**
 * A TCP connection to the first of the checked addresses that accepts, tried in order within one
 * deadline (the proxy's connectTimeoutMs). The addresses are the ones admit.ts checked: nothing
 * here resolves a name, so DNS answering differently now (rebinding) changes nothing.
 */
export async function connectPinned(
  addresses: readonly ResolvedAddress[],
  port: number,
  target: string,
  timeoutMs: number,
  register: (socket: net.Socket) => void,
): Promise<{ ok: true; socket: net.Socket; address: string } | { ok: false; refusal: Refusal }> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (const { address } of addresses) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    try {
      const socket = await connectOne(address, port, left, register);
      return { ok: true, socket, address };
    } catch (error) {
      lastError = error;
    }
  }
  if (lastError === undefined || (lastError as { code?: string }).code === 'ETIMEDOUT') {
    return { ok: false, refusal: refusals.connectTimeout(target, timeoutMs) };
  }
  return { ok: false, refusal: refusals.connectFailed(target, rootCause(lastError)) };
}

function connectOne(
  address: string,
  port: number,
  timeoutMs: number,
  register: (socket: net.Socket) => void,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address, port });
    register(socket);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        Object.assign(new Error(`connect ${address}:${port} timed out`), { code: 'ETIMEDOUT' }),
      );
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      resolve(socket);
    });
    const onError = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.once('error', onError);
    // The proxy closing destroys registered sockets: a pending connect then fails here.
    socket.once('close', () => {
      clearTimeout(timer);
      reject(new Error('closed before connecting'));
    });
  });
}
