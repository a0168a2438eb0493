/**
 * A round-robin load balancer for tests of gateway replicas (budgets, rate limits), per HTTP
 * request: a keep-alive client (the SDK's) is spread over the replicas without changing it.
 * test/helpers/balancer.ts is the per-connection TCP one, as a real L4 balancer, that the
 * replica suite (test/replicas) puts in front of three gateways.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A load balancer in front of two replicas: each HTTP request goes to the next backend in turn
 * (Host passed as is, so both gateways, whose public URL is this proxy's, accept it).
 */
export async function startRoundRobin() {
  const backends: string[] = [];
  const served = new Map<string, number>();
  let next = 0;
  const server = http.createServer((req, res) => {
    const target = new URL(backends[next++ % backends.length] as string);
    served.set(target.host, (served.get(target.host) ?? 0) + 1);
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
    backends,
    served,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
