import { describe, expect, it } from 'vitest';
import { readMigrations } from '../../gateway/src/db/migrate.ts';
import { testDatabaseServer } from '../helpers/database.ts';
import { ADMIN_KEY, startTestGateway, useTestGateway } from '../helpers/gateway.ts';
import { startTcpProxy, viaProxy } from '../helpers/tcp-proxy.ts';

describe('HTTP skeleton', () => {
  const gw = useTestGateway();

  const admin = { authorization: `Bearer ${ADMIN_KEY}` };

  it('/healthz answers while the process is alive', async () => {
    const res = await fetch(`${gw().url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz is 200 on a migrated database', async () => {
    const res = await fetch(`${gw().url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', migration: readMigrations().length });
  });

  it('an unknown route is a 404 JSON error with the request id', async () => {
    const res = await fetch(`${gw().url}/no/such/route`, {
      headers: { 'x-request-id': 'req-42' },
    });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('x-request-id')).toBe('req-42');
    expect(await res.json()).toEqual({
      error: { code: 'not_found', message: 'no route for GET /no/such/route', requestId: 'req-42' },
    });
  });

  it('an unusable incoming request id is replaced by a generated one', async () => {
    const res = await fetch(`${gw().url}/healthz`, { headers: { 'x-request-id': 'a b\tc' } });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a body over 1 MiB is a 413 JSON error', async () => {
    const res = await fetch(`${gw().url}/api/v1/keys`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 1), scopes: ['*'] }),
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({
      error: { code: 'payload_too_large', limit: 1048576 },
    });
  });

  it('malformed JSON is a 400 JSON error', async () => {
    const res = await fetch(`${gw().url}/api/v1/keys`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: '{"name": ',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_json' } });
  });

  it('/metrics has process metrics and request durations by route pattern and status', async () => {
    await fetch(`${gw().url}/api/v1/keys/123`, { method: 'DELETE', headers: admin });
    const text = await (await fetch(`${gw().url}/metrics`)).text();
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
    expect(text).toMatch(
      /http_request_duration_seconds_count\{method="DELETE",route="\/api\/v1\/keys\/:id",status="404"\} 1/,
    );
    expect(text).toMatch(/route="\(unmatched\)",status="404"/);
  });
});

describe('/readyz follows the database', () => {
  it('is 503 while the database is unreachable and 200 when it is back', async () => {
    const server = await testDatabaseServer();
    const target = new URL(server.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    const gateway = await startTestGateway({
      DATABASE_URL: viaProxy(server.url, proxy.port),
      SWITCHBOARD_ADMIN_KEY: ADMIN_KEY,
    });
    try {
      expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200);
      await proxy.cut();
      const down = await fetch(`${gateway.url}/readyz`);
      expect(down.status).toBe(503);
      expect(await down.json()).toMatchObject({ status: 'database_unreachable' });
      // An API call that needs the database says so, rather than "internal error".
      const api = await fetch(`${gateway.url}/api/v1/keys`, {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      });
      expect(api.status).toBe(503);
      expect(await api.json()).toMatchObject({ error: { code: 'database_unavailable' } });
      // Liveness does not depend on the database: restarting would not help.
      expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
      await proxy.restore();
      // postgres.js reconnects on the next query; allow it a few tries.
      let status = 0;
      for (let i = 0; i < 20 && status !== 200; i++) {
        status = (await fetch(`${gateway.url}/readyz`)).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 250));
      }
      expect(status).toBe(200);
    } finally {
      await gateway.stop();
      await proxy.close();
      await server.cleanup();
    }
  });
});
