import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../gateway/src/log.ts';
import { createShutdown } from '../../gateway/src/shutdown.ts';
import { testDatabase } from '../helpers/database.ts';
import { ADMIN_KEY, captureLogs, startTestGateway } from '../helpers/gateway.ts';
import { type GatewayProcess, startGatewayProcess } from '../helpers/gateway-process.ts';

type Running = GatewayProcess;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startProcess(env: Record<string, string> = {}): Promise<Running> {
  const gw = await startGatewayProcess(env);
  cleanups.push(gw.cleanup);
  return gw;
}

/** POST /api/v1/keys whose body arrives in two parts, the second when the test says so. */
function slowRequest(url: string) {
  const body = JSON.stringify({ name: 'slow', scopes: ['keys:read'] });
  const half = Math.floor(body.length / 2);
  const req = http.request(`${url}/api/v1/keys`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${ADMIN_KEY}`,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    },
  });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => {
        text += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
  });
  response.catch(() => {});
  req.write(body.slice(0, half));
  return { response, finish: () => req.end(body.slice(half)) };
}

const connectionRefused = (url: string) =>
  fetch(`${url}/healthz`).then(
    () => false,
    (error: { cause?: { code?: string } }) => error.cause?.code === 'ECONNREFUSED',
  );

describe('graceful shutdown', () => {
  it('SIGTERM during a slow request lets it finish, then exits 0', async () => {
    const gw = await startProcess();
    const slow = slowRequest(gw.url);
    await new Promise((r) => setTimeout(r, 200));
    gw.child.kill('SIGTERM');
    await gw.waitForLog('shutting down');
    // No new connections once shutdown has begun.
    expect(await connectionRefused(gw.url)).toBe(true);
    expect(gw.child.exitCode).toBeNull();
    slow.finish();
    const res = await slow.response;
    expect(res.status).toBe(201);
    expect(JSON.parse(res.body)).toMatchObject({ apiKey: { name: 'slow' } });
    expect(await gw.exited).toEqual({ code: 0, signal: null });
    expect(gw.logs.find((l) => l.msg === 'shut down')).toMatchObject({ graceful: true });
  });

  it('cuts requests still running at the deadline and still exits 0', async () => {
    const gw = await startProcess({ SWITCHBOARD_SHUTDOWN_TIMEOUT_MS: '500' });
    const slow = slowRequest(gw.url);
    await new Promise((r) => setTimeout(r, 200));
    gw.child.kill('SIGTERM');
    await expect(slow.response).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(await gw.exited).toEqual({ code: 0, signal: null });
    expect(gw.logs.map((l) => l.msg)).toContain('shutdown deadline reached; closing connections');
    expect(gw.logs.find((l) => l.msg === 'shut down')).toMatchObject({ graceful: false });
  });

  it('ends registered long-lived streams instead of waiting for them', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
      const stop = shutdown.onStart(() => res.end());
      res.on('close', stop);
    });
    const shutdown = createShutdown({
      server,
      log: createLogger('silent'),
      deadlineMs: 30_000,
      resources: [],
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const stream = await fetch(`http://127.0.0.1:${port}/events`);
    const reader = stream.body!.getReader();
    await reader.read();
    const result = await shutdown.run('test');
    expect(result).toEqual({ ok: true });
    // The stream ended cleanly rather than being cut at the 30 s deadline.
    let done = false;
    while (!done) done = (await reader.read()).done;
  });

  it('a resource whose close never settles is left behind at the deadline; the rest still close', async () => {
    const closed: string[] = [];
    const logs = captureLogs();
    const shutdown = createShutdown({
      log: createLogger('info', logs.stream),
      deadlineMs: 300,
      closeTimeoutMs: 300,
      resources: [
        { name: 'workers', close: () => new Promise<void>(() => {}) },
        {
          name: 'database',
          close: async () => {
            closed.push('database');
          },
        },
      ],
    });
    const started = Date.now();
    // Regression (issue 16): before, run() waited on the first close for ever, and a gateway
    // whose database connection was cut mid-statement never exited.
    expect(await shutdown.run('test')).toEqual({ ok: false });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(closed).toEqual(['database']);
    expect(logs.lines).toContainEqual(
      expect.objectContaining({
        resource: 'workers',
        msg: 'closing did not finish by the deadline; going on',
      }),
    );
  });

  it('/readyz answers 503 shutting_down from the moment shutdown begins', async () => {
    const db = await testDatabase();
    cleanups.push(db.cleanup);
    const gw = await startTestGateway(db.env);
    const ready = await fetch(`${gw.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready' });
    // A signal while a boot step is still running (here: one the test holds open): shutdown
    // waits for the step before it closes the listener, and load balancers see 503 meanwhile.
    let finishStep: () => void = () => {};
    gw.shutdown.holdUntil(
      new Promise<void>((resolve) => {
        finishStep = resolve;
      }),
    );
    const stopped = gw.shutdown.run('test');
    const draining = await fetch(`${gw.url}/readyz`);
    expect(draining.status).toBe(503);
    expect(await draining.json()).toEqual({ status: 'shutting_down' });
    finishStep();
    expect(await stopped).toEqual({ ok: true });
    expect(gw.logs.lines.map((l) => l.msg)).toContain('shut down');
  });
});
