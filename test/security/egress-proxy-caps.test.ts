/**
 * The egress proxy's bounds under an integration that pushes them (issue 21, gateway/src/egress/):
 * a tunnel or a forwarded response past maxBytes, a tunnel idle past idleTimeoutMs (both end
 * with limit_reached, never a clean end of a cut stream), one integration holding its
 * maxConnectionsPerIntegration (429, others unaffected, the slot back when a tunnel ends), 40
 * connections from 3 integrations at once each audited under its own name, an upstream port
 * nobody listens on (502 connect_failed), bytes that are no HTTP and an audit store that throws:
 * the proxy keeps serving. Loopback only; no database.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authOf,
  grant,
  openTunnel,
  rawExchange,
  startEchoServer,
  startTcpServer,
  startTestProxy,
} from '../helpers/egress.ts';

let tcp: Awaited<ReturnType<typeof startTcpServer>>;
let echo: Awaited<ReturnType<typeof startEchoServer>>;
let gateway: http.Server;
let _gatewayPort: number;

beforeAll(async () => {
  tcp = await startTcpServer();
  echo = await startEchoServer();
  // Stands in for the gateway's API listener.
  gateway = http.createServer((_req, res) => res.end('admin api'));
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  _gatewayPort = (gateway.address() as AddressInfo).port;
});
afterAll(async () => {
  await tcp.close();
  await echo.close();
  gateway.closeAllConnections();
  await new Promise<void>((resolve) => gateway.close(() => resolve()));
});

const connectRequest = (target: string, authorization?: string) =>
  `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${authorization ? `Proxy-Authorization: ${authorization}\r\n` : ''}\r\n`;

describe('caps: bytes, idle time, connections', () => {
  it('a tunnel past maxBytes is ended (limit_reached) after exactly maxBytes', async () => {
    const t = await startTestProxy({ limits: { maxBytes: 1000 } });
    try {
      const loop = `127.0.0.1:${tcp.port}`;
      t.grants.set('github', grant([loop], [loop]));
      const tunnel = await openTunnel(t.proxy.port, loop, authOf(t.proxy, 'github'), 'send 50000');
      expect(tunnel.status).toBe(200);
      await tunnel.closed;
      expect(tunnel.received().length).toBe(1000);
      const [record] = await t.recorded(1);
      expect(record).toMatchObject({ reason: 'limit_reached', bytesDown: 1000, bytesUp: 10 });
    } finally {
      await t.proxy.close();
    }
  });

  it('a forwarded response past maxBytes is cut (limit_reached)', async () => {
    const t = await startTestProxy({ limits: { maxBytes: 100 } });
    try {
      const loop = `127.0.0.1:${echo.port}`;
      t.grants.set('github', grant([loop], [loop]));
      const answer = await rawExchange(
        t.proxy.port,
        `GET http://${loop}/${'a'.repeat(300)} HTTP/1.1\r\nHost: ${loop}\r\nProxy-Authorization: ${authOf(t.proxy, 'github')}\r\nConnection: close\r\n\r\n`,
      );
      expect(answer.body.length).toBeLessThanOrEqual(100);
      const [record] = await t.recorded(1);
      expect(record).toMatchObject({ kind: 'http', reason: 'limit_reached', bytesDown: 100 });
    } finally {
      await t.proxy.close();
    }
  });

  it('a tunnel with no byte either way is ended at idleTimeoutMs (limit_reached)', async () => {
    const t = await startTestProxy({ limits: { idleTimeoutMs: 300 } });
    try {
      const loop = `127.0.0.1:${tcp.port}`;
      t.grants.set('github', grant([loop], [loop]));
      const tunnel = await openTunnel(t.proxy.port, loop, authOf(t.proxy, 'github'), 'hold');
      expect(tunnel.status).toBe(200);
      await tunnel.closed;
      const [record] = await t.recorded(1);
      expect(record).toMatchObject({ integration: 'github', reason: 'limit_reached', bytesUp: 4 });
      expect(t.proxy.openConnections()).toBe(0);
    } finally {
      await t.proxy.close();
    }
  });

  it('maxConnectionsPerIntegration: the next connection is 429 rate_limited, other integrations unaffected', async () => {
    const t = await startTestProxy({ limits: { maxConnectionsPerIntegration: 3 } });
    try {
      const loop = `127.0.0.1:${tcp.port}`;
      t.grants.set('github', grant([loop], [loop]));
      t.grants.set('weather', grant([loop], [loop]));
      const held = await Promise.all(
        [1, 2, 3].map(() => openTunnel(t.proxy.port, loop, authOf(t.proxy, 'github'), 'hold')),
      );
      expect(held.map((h) => h.status)).toEqual([200, 200, 200]);
      const fourth = await rawExchange(
        t.proxy.port,
        connectRequest(loop, authOf(t.proxy, 'github', '0b6e7f3c-2a40-4b8e-9d1a-5f0c2e7a9b09')),
      );
      expect(fourth.status).toBe(429);
      expect(fourth.headers['x-switchboard-egress']).toBe('rate_limited');
      expect(fourth.body).toContain('SWITCHBOARD_EGRESS_MAX_CONNECTIONS');
      const other = await openTunnel(t.proxy.port, loop, authOf(t.proxy, 'weather'), 'hold');
      expect(other.status).toBe(200);
      // A slot comes back when a tunnel ends.
      held[0]?.socket.destroy();
      await held[0]?.closed;
      await expect.poll(() => t.proxy.openConnections()).toBe(3);
      const again = await openTunnel(t.proxy.port, loop, authOf(t.proxy, 'github'), 'hold');
      expect(again.status).toBe(200);
      const refused = t.records.filter((r) => r.outcome === 'refused');
      expect(refused).toHaveLength(1);
      expect(refused[0]).toMatchObject({
        integration: 'github',
        taskId: '0b6e7f3c-2a40-4b8e-9d1a-5f0c2e7a9b09',
        reason: 'rate_limited',
      });
    } finally {
      await t.proxy.close();
    }
  });

  /** Task ids are UUIDs; the last 12 digits carry i. */
  const taskUuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

  it('40 connections from 3 integrations at once: each served and audited under its own name', async () => {
    const t = await startTestProxy();
    try {
      const loop = `127.0.0.1:${tcp.port}`;
      const names = ['alpha', 'beta', 'gamma'];
      for (const name of names) t.grants.set(name, grant([loop], [loop]));
      const results = await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const name = names[i % 3] as string;
          const marker = `${name}-${i}\n`;
          const tunnel = await openTunnel(
            t.proxy.port,
            loop,
            authOf(t.proxy, name, taskUuid(i)),
            marker,
          );
          tunnel.socket.on('data', (chunk: Buffer) => {
            if (chunk.toString().includes(marker)) tunnel.socket.end();
          });
          if (tunnel.received().toString().includes(marker)) tunnel.socket.end();
          await tunnel.closed;
          return { name, i, echoed: tunnel.received().toString() };
        }),
      );
      for (const r of results) expect(r.echoed).toContain(`${r.name}-${r.i}`);
      const records = await t.recorded(40);
      expect(records).toHaveLength(40);
      for (const record of records) {
        const i = Number.parseInt(record.taskId?.slice(-12) ?? '', 10);
        expect(record.integration).toBe(names[i % 3]);
        expect(record).toMatchObject({
          outcome: 'allowed',
          bytesUp: `${names[i % 3]}-${i}\n`.length,
        });
      }
      expect(t.proxy.openConnections()).toBe(0);
    } finally {
      await t.proxy.close();
    }
  });
});

describe('bytes that are no HTTP, upstreams that are not there', () => {
  it('a granted loopback port nobody listens on: 502 connect_failed, recorded as failed', async () => {
    const t = await startTestProxy();
    try {
      const closed = await startTcpServer();
      await closed.close();
      const target = `127.0.0.1:${closed.port}`;
      t.grants.set('github', grant([target], [target]));
      const answer = await rawExchange(
        t.proxy.port,
        connectRequest(target, authOf(t.proxy, 'github')),
      );
      expect(answer.status).toBe(502);
      expect(answer.headers['x-switchboard-egress']).toBe('connect_failed');
      expect(answer.body).toContain('ECONNREFUSED');
      const [record] = await t.recorded(1);
      expect(record).toMatchObject({
        outcome: 'failed',
        reason: 'connect_failed',
        integration: 'github',
      });
    } finally {
      await t.proxy.close();
    }
  });

  it('a malformed request line, a huge header, binary garbage: answered or closed, the next client served', async () => {
    const t = await startTestProxy();
    try {
      const loop = `127.0.0.1:${echo.port}`;
      t.grants.set('github', grant([loop], [loop]));
      const hostile = [
        'NOT A REQUEST\r\n\r\n',
        `GET http://${loop}/ HTTP/1.1\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`,
        Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0x0d, 0x0a, 0x0d, 0x0a]),
        'CONNECT \r\n\r\n',
        `GET http://${loop}/ HTTP/1.1\r\nProxy-Authorization: Basic \u0000\u0001\r\n\r\n`,
      ];
      for (const request of hostile) {
        const answer = await rawExchange(t.proxy.port, request);
        expect(answer.status === 0 || answer.status >= 400).toBe(true);
      }
      const ok = await openTunnel(t.proxy.port, loop, authOf(t.proxy, 'github'));
      expect(ok.status).toBe(200);
      ok.socket.end('GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      await ok.closed;
      expect(ok.received().toString()).toContain('/after');
    } finally {
      await t.proxy.close();
    }
  });

  it('the audit store throwing loses no connection and stops nothing', async () => {
    const t = await startTestProxy({
      record: () => {
        throw new Error('database down');
      },
    });
    try {
      const loop = `127.0.0.1:${echo.port}`;
      t.grants.set('github', grant([loop], [loop]));
      const refused = await rawExchange(
        t.proxy.port,
        connectRequest('elsewhere.test:443', authOf(t.proxy, 'github')),
      );
      expect(refused.status).toBe(403);
      const ok = await openTunnel(t.proxy.port, loop, authOf(t.proxy, 'github'));
      expect(ok.status).toBe(200);
      ok.socket.end('GET /still HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      await ok.closed;
      expect(ok.received().toString()).toContain('/still');
      await expect.poll(() => t.proxy.openConnections()).toBe(0);
    } finally {
      await t.proxy.close();
    }
  });
});
