import net from 'node:net';

/**
 * A loopback TCP proxy that a test can cut, as a database server that stops does: `cut()`
 * resets every open connection and stops listening (new connections are refused);
 * `restore()` listens again on the same port.
 *
 * Refused, not accepted-then-closed: postgres.js retries a connection that closes during its
 * handshake forever, without failing the waiting queries (postgres 3.4, connection.js closed()).
 */
export async function startTcpProxy(target: { host: string; port: number }) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number) =>
    new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.resetAndDestroy();
      if (server.listening) server.close(() => resolve());
      else resolve();
    });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  return { port, cut: stop, restore: () => listen(port), close: stop };
}

/** The same URL with host and port replaced by the proxy's. */
export function viaProxy(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}

/**
 * A loopback proxy that loses every answer: the request goes through whole, and when the first
 * bytes of the response come back the client's connection is reset instead. The server did
 * everything it does before answering (a webhook: the delivery is committed), the client saw a
 * connection error: a lost acknowledgement. `statusLines` holds each answer's first line
 * ("HTTP/1.1 202 Accepted"), so a test knows what was lost.
 */
export async function startAnswerDroppingProxy(target: { host: string; port: number }) {
  const sockets = new Set<net.Socket>();
  const statusLines: string[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.once('data', (chunk: Buffer) => {
      statusLines.push(chunk.toString('latin1').split('\r\n')[0] ?? '');
      client.resetAndDestroy();
      upstream.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    statusLines,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
