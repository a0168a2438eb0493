/** HTTP fronts for tests of gateway replicas: one public URL, the backend chosen per request. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * One public URL in front of gateway processes (their tokens name it as issuer and audience, and
 * a loopback public URL admits only its own Host): each HTTP request goes to the backend `pick`
 * names, Host passed as is. Per request, so a keep-alive client (the SDK's) is spread too;
 * test/helpers/balancer.ts is the per-connection TCP one, as a real L4 balancer, that the replica
 * suite (test/replicas) puts in front of three gateways.
 */
export async function startHttpFront(pick: (req: http.IncomingMessage) => string) {
  const server = http.createServer((req, res) => {
    const target = new URL(pick(req));
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Round robin over `backends` (budgets, rate limits): each request to the next in turn. */
export async function startRoundRobin() {
  const backends: string[] = [];
  const served = new Map<string, number>();
  let next = 0;
  const front = await startHttpFront(() => {
    const backend = backends[next++ % backends.length] as string;
    const host = new URL(backend).host;
    served.set(host, (served.get(host) ?? 0) + 1);
    return backend;
  });
  return { ...front, backends, served };
}
