import net from 'node:net';

export interface Backend {
  host: string;
  port: number;
}

/**
 * A loopback TCP round-robin balancer in front of gateway replicas (test/replicas): each new
 * client connection goes to the next backend in turn. A backend whose connect fails (refused:
 * a replica that is stopped or restarting) is skipped and the next one tried, as haproxy's
 * `retries`/`option redispatch` and nginx's `proxy_next_upstream error` do on connect failure;
 * only when every backend refuses is the client's connection reset. Once a connection is
 * piped, a backend that dies mid-request is the client's error (no balancer replays a request
 * that may have been processed).
 *
 * It balances per TCP connection, not per HTTP request, because that is what a TCP (L4)
 * balancer does and it stays blind to the protocol (SSE streams, MCP POSTs, webhooks all pass
 * as bytes). HTTP keep-alive would then pin a client to one replica, so test clients open a new
 * connection per request: `fetchFresh` below sends `Connection: close` (Node's fetch then
 * opens a new connection for the next request; an undici Agent without keep-alive would do the
 * same, but undici is not a direct dependency), so the spread over replicas is the balancer's,
 * not the connection pool's. MCP clients get the same header through their transport's fetch.
 *
 * `connections[i]` counts the connections piped to backend i (tests assert the spread);
 * `drain(i)` takes backend i out of the rotation for new connections, `restore(i)` puts it
 * back; `setBackends` replaces the list (a replica restarted on another port).
 */
export async function startBalancer(initial: Backend[]) {
  let backends = [...initial];
  let connections = backends.map(() => 0);
  let drained = new Set<number>();
  let next = 0;
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };

  /** Tries each backend once, from the next in turn; null when every one refused. */
  const connect = (): Promise<{ socket: net.Socket; index: number } | null> =>
    new Promise((resolve) => {
      const order = backends.map((_, k) => (next + k) % backends.length);
      next = (next + 1) % Math.max(1, backends.length);
      const attempt = (k: number) => {
        const index = order[k];
        if (index === undefined) return resolve(null);
        const backend = backends[index];
        if (drained.has(index) || !backend) return attempt(k + 1);
        const socket = net.connect(backend.port, backend.host);
        const failed = () => {
          socket.destroy();
          attempt(k + 1);
        };
        socket.once('error', failed);
        socket.once('connect', () => {
          socket.off('error', failed);
          resolve({ socket, index });
        });
      };
      attempt(0);
    });

  const server = net.createServer((client) => {
    track(client);
    client.pause();
    client.on('error', () => client.destroy());
    void connect().then((up) => {
      if (!up) return client.resetAndDestroy();
      if (client.destroyed) return up.socket.destroy();
      connections[up.index] = (connections[up.index] ?? 0) + 1;
      const upstream = up.socket;
      track(upstream);
      for (const s of [client, upstream]) {
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      // A half-close from either side is passed on (an HTTP/1.1 client may end its side first).
      client.pipe(upstream).pipe(client);
      client.resume();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    /** Connections piped to each backend so far. */
    get connections(): readonly number[] {
      return connections;
    },
    resetCounts() {
      connections = backends.map(() => 0);
    },
    setBackends(list: Backend[]) {
      backends = [...list];
      connections = backends.map((_, i) => connections[i] ?? 0);
      drained = new Set([...drained].filter((i) => i < backends.length));
    },
    /** Replace one backend (a replica restarted on a new port). */
    setBackend(i: number, backend: Backend) {
      backends[i] = backend;
    },
    drain(i: number) {
      drained.add(i);
    },
    restore(i: number) {
      drained.delete(i);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export type Balancer = Awaited<ReturnType<typeof startBalancer>>;

/**
 * `fetch` over a new TCP connection per request (`Connection: close`): each request is balanced
 * on its own, as a client behind a per-connection balancer without keep-alive sees it.
 */
export function fetchFresh(url: string | URL, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('connection', 'close');
  return fetch(url, { ...init, headers });
}
