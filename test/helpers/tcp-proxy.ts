import net from 'node:net';

/**
 * A loopback TCP proxy that a test can break the way database servers break:
 * - `cut()` resets every open connection and stops listening (new connections are refused), as
 *   a server that stops does; `restore()` listens again on the same port and proxies again;
 * - `hangUp()` resets every open connection and keeps listening, but answers each new one by
 *   reading what the client sends first and closing cleanly (a proxy without a backend, a
 *   server at its connection limit): the client's startup handshake never completes.
 */
export async function startTcpProxy(target: { host: string; port: number }) {
  const sockets = new Set<net.Socket>();
  let hangingUp = false;
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const server = net.createServer((client) => {
    track(client);
    if (hangingUp) {
      client.on('error', () => client.destroy());
      client.once('data', () => client.end());
      return;
    }
    const upstream = net.connect(target.port, target.host);
    track(upstream);
    for (const s of [client, upstream]) {
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number) =>
    new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const resetAll = () => {
    for (const s of sockets) s.resetAndDestroy();
  };
  const stop = () =>
    new Promise<void>((resolve) => {
      resetAll();
      if (server.listening) server.close(() => resolve());
      else resolve();
    });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    cut: stop,
    hangUp: () => {
      hangingUp = true;
      resetAll();
    },
    restore: async () => {
      hangingUp = false;
      if (!server.listening) await listen(port);
    },
    close: stop,
  };
}

/** A server that accepts every connection, reads the first bytes and closes it cleanly. */
export async function startHangUpServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.once('data', () => socket.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A server that completes a Postgres startup handshake (AuthenticationOk, ReadyForQuery) and
 * resets the connection at the client's first query: a database lost just as a connection opens.
 */
export async function startResetAfterHandshakeServer(): Promise<{
  port: number;
  close(): Promise<void>;
}> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.once('data', () => {
      const authenticationOk = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]);
      const readyForQuery = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]);
      socket.write(Buffer.concat([authenticationOk, readyForQuery]));
      socket.once('data', () => socket.resetAndDestroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
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
