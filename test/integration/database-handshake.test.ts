import { describe, expect, it } from 'vitest';
import { testDatabaseServer } from '../helpers/database.ts';
import { ADMIN_KEY, startTestGateway } from '../helpers/gateway.ts';
import { spawnGatewayProcess } from '../helpers/gateway-process.ts';
import {
  startHangUpServer,
  startResetAfterHandshakeServer,
  startTcpProxy,
  viaProxy,
} from '../helpers/tcp-proxy.ts';

// Issue 12 item 12: a server that accepts TCP and closes cleanly during the startup handshake
// made postgres.js reconnect at once, forever, and every query (boot's, an API request's) wait
// forever. Now such a close fails the waiting queries: start stops with a clear error, requests
// answer 503, and the cause is logged once however many attempts fail.
const HANDSHAKE_CLOSED = /closed the connection during the startup handshake/;

describe('a database server that hangs up during the handshake', () => {
  it('stops `switchboard start` with a clear error instead of retrying forever', async () => {
    const hangUp = await startHangUpServer();
    const gw = await spawnGatewayProcess({
      DATABASE_URL: `postgres://switchboard:secret-password@127.0.0.1:${hangUp.port}/switchboard`,
    });
    try {
      expect(await gw.exited).toEqual({ code: 1, signal: null });
      expect(gw.stderr()).toMatch(/^switchboard: could not start: /);
      expect(gw.stderr()).toMatch(HANDSHAKE_CLOSED);
      expect(gw.stderr()).toContain(`127.0.0.1:${hangUp.port}`);
      expect(gw.stderr()).not.toContain('secret-password');
      const unreachable = gw.logs.filter((l) => l.msg === 'database unreachable');
      expect(unreachable).toHaveLength(1);
      expect(String(unreachable[0]!.cause)).toMatch(HANDSHAKE_CLOSED);
      expect(gw.logs.map((l) => l.msg)).not.toContain('database connected');
    } finally {
      await gw.cleanup();
      await hangUp.close();
    }
  });

  it('a connection lost just after its handshake fails start-up cleanly, not by a crash', async () => {
    // postgres.js runs a query of its own on each new connection (the array types) and drops
    // its promise: a reset then was an unhandled rejection, which ends a Node process.
    const reset = await startResetAfterHandshakeServer();
    const gw = await spawnGatewayProcess({
      DATABASE_URL: `postgres://switchboard@127.0.0.1:${reset.port}/switchboard`,
    });
    try {
      expect(await gw.exited).toEqual({ code: 1, signal: null });
      expect(gw.stderr()).toMatch(/^switchboard: could not start: cannot use the database \(/);
      expect(gw.stderr()).toContain('ECONNRESET');
      expect(gw.logs.map((l) => l.msg)).not.toContain('unhandled rejection');
    } finally {
      await gw.cleanup();
      await reset.close();
    }
  });

  it('answers API requests 503 meanwhile, logs the cause once, and recovers', async () => {
    const server = await testDatabaseServer();
    const target = new URL(server.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    const gateway = await startTestGateway({
      DATABASE_URL: viaProxy(server.url, proxy.port),
      SWITCHBOARD_ADMIN_KEY: ADMIN_KEY,
    });
    const logged = (msg: string) => gateway.logs.lines.filter((l) => l.msg === msg);
    try {
      expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200);
      proxy.hangUp();
      for (let i = 0; i < 6; i++) {
        // The deadline only turns a hang into a clear failure; the gateway answers in seconds.
        const res = await fetch(`${gateway.url}/api/v1/keys`, {
          ...auth(),
          signal: AbortSignal.timeout(30_000),
        });
        expect(res.status).toBe(503);
        expect(await res.json()).toMatchObject({
          error: {
            code: 'database_unavailable',
            message: 'the database is unreachable; try again shortly',
          },
        });
      }
      const ready = await fetch(`${gateway.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ status: 'database_unreachable' });
      const unreachable = logged('database unreachable');
      expect(unreachable).toHaveLength(1);
      expect(String(unreachable[0]!.cause)).toMatch(HANDSHAKE_CLOSED);
      // Neither each request nor each readiness probe says it again at warn or above.
      const loud = gateway.logs.lines.filter(
        (l) =>
          ['warn', 'error', 'fatal'].includes(String(l.level)) &&
          ['request failed', 'readiness check failed', 'database unreachable'].includes(
            String(l.msg),
          ),
      );
      expect(loud.map((l) => l.msg)).toEqual(['database unreachable']);

      await proxy.restore();
      await expect
        .poll(async () => (await fetch(`${gateway.url}/readyz`)).status, { timeout: 30_000 })
        .toBe(200);
      expect(logged('database reachable again')).toHaveLength(1);
    } finally {
      await gateway.stop();
      await proxy.close();
      await server.cleanup();
    }
  });
});

const auth = () => ({ headers: { authorization: `Bearer ${ADMIN_KEY}` } });
