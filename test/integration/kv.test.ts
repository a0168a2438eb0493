/**
 * Key-value storage (issue 18; gateway/src/kv/, api/kv.ts): compare-and-set, TTL, listing by
 * pages, bounds, the retention job's pruning, and an integration's stdio server using its own
 * namespace through SWITCHBOARD_URL with its SWITCHBOARD_API_KEY, called as a tool through /mcp.
 */
import { describe, expect, it } from 'vitest';
import { KV_VALUE_MAX_BYTES } from '../../gateway/src/kv/bounds.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { runRetention } from '../../gateway/src/retention/job.ts';
import { ADMIN_KEY } from '../helpers/gateway.ts';
import { type Json, kvCall, useKvGateway } from '../helpers/kv.ts';
import { grantTask, messagesOf, post, toolCall } from '../helpers/mcp-gateway.ts';

const log = createLogger('silent');
const OFF = {
  deliveriesMs: null,
  taskEventsMs: null,
  auditMs: null,
  egressMs: null,
  intervalMs: 60_000,
};

describe('key-value storage', () => {
  const gw = useKvGateway();
  const admin = (method: string, route: string, body?: unknown) =>
    kvCall(gw(), ADMIN_KEY, method, route, body);

  it('writes, reads and deletes a key with versions; ifVersion 0 creates only', async () => {
    const created = await admin('PUT', '/kv/kvapp/greeting', {
      value: { hello: 'world' },
      ifVersion: 0,
    });
    expect(created).toMatchObject({
      status: 200,
      body: { key: 'greeting', version: 1, expiresAt: null },
    });
    const again = await admin('PUT', '/kv/kvapp/greeting', { value: 'x', ifVersion: 0 });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({
      code: 'kv_version_conflict',
      currentVersion: 1,
      ifVersion: 0,
    });
    expect((await admin('PUT', '/kv/kvapp/greeting', { value: [1, 2, 3] })).body.version).toBe(2);
    expect(await admin('GET', '/kv/kvapp/greeting')).toMatchObject({
      status: 200,
      body: { key: 'greeting', value: [1, 2, 3], version: 2, expiresAt: null },
    });
    const stale = await admin('DELETE', '/kv/kvapp/greeting?ifVersion=1');
    expect(stale.status).toBe(409);
    expect(stale.body.error.currentVersion).toBe(2);
    expect(await admin('DELETE', '/kv/kvapp/greeting?ifVersion=2')).toMatchObject({
      status: 200,
      body: { deleted: true, version: 2 },
    });
    expect((await admin('GET', '/kv/kvapp/greeting')).status).toBe(404);
    expect((await admin('DELETE', '/kv/kvapp/greeting')).status).toBe(404);
    // Written again after its delete, a key starts over at version 1.
    expect((await admin('PUT', '/kv/kvapp/greeting', { value: null })).body.version).toBe(1);
    expect((await admin('GET', '/kv/kvapp/greeting')).body.value).toBeNull();
  });

  it('compare-and-set: of two writers with the same ifVersion exactly one wins, every round', async () => {
    await admin('PUT', '/kv/kvapp/counter', { value: 0, ifVersion: 0 });
    for (let round = 1; round <= 5; round++) {
      const [a, b] = await Promise.all([
        admin('PUT', '/kv/kvapp/counter', { value: `a${round}`, ifVersion: round }),
        admin('PUT', '/kv/kvapp/counter', { value: `b${round}`, ifVersion: round }),
      ]);
      const statuses = [a.status, b.status].sort();
      expect(statuses).toEqual([200, 409]);
      const winner = a.status === 200 ? a : b;
      const loser = a.status === 200 ? b : a;
      expect(winner.body.version).toBe(round + 1);
      expect(loser.body.error.currentVersion).toBe(round + 1);
      const read = await admin('GET', '/kv/kvapp/counter');
      expect(read.body.value).toBe(winner === a ? `a${round}` : `b${round}`);
    }
  });

  it('a key past its TTL is gone at once, and the retention job deletes its row', async () => {
    const put = await admin('PUT', '/kv/kvapp/short-lived', { value: 'soon gone', ttlSeconds: 1 });
    expect(put.status).toBe(200);
    expect(Date.parse(put.body.expiresAt) - Date.parse(put.body.updatedAt)).toBe(1000);
    expect((await admin('GET', '/kv/kvapp/short-lived')).status).toBe(200);
    await expect.poll(async () => (await admin('GET', '/kv/kvapp/short-lived')).status).toBe(404);
    const listed = await admin('GET', '/kv/kvapp?prefix=short');
    expect(listed.body.keys).toEqual([]);
    // Its row is still there until pruned; an ifVersion-0 write treats it as absent.
    const [row] = await gw()
      .sql`select count(*)::int as n from kv_entries where key = 'short-lived'`;
    expect(row!.n).toBe(1);
    const counts = await runRetention(gw().sql, OFF, { log });
    expect(counts.kv).toBeGreaterThanOrEqual(1);
    const [after] = await gw()
      .sql`select count(*)::int as n from kv_entries where key = 'short-lived'`;
    expect(after!.n).toBe(0);
    // A write without ttlSeconds clears an earlier TTL.
    await admin('PUT', '/kv/kvapp/ttl-cleared', { value: 1, ttlSeconds: 3600 });
    const cleared = await admin('PUT', '/kv/kvapp/ttl-cleared', { value: 2 });
    expect(cleared.body).toMatchObject({ version: 2, expiresAt: null });
  });

  it('lists 30 keys in pages of 10 in bytewise order, and by prefix', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `page/item-${i + 1}`);
    for (const key of keys) {
      const res = await admin('PUT', `/kv/kvother/${encodeURIComponent(key)}`, { value: key });
      expect(res.status).toBe(200);
    }
    await admin('PUT', '/kv/kvother/other-key', { value: 'not in the prefix' });
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `prefix=page%2F&limit=10${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await admin('GET', `/kv/kvother?${query}`);
      expect(page.status).toBe(200);
      expect(page.body.keys.length).toBeLessThanOrEqual(10);
      seen.push(...page.body.keys.map((k: { key: string }) => k.key));
      cursor = page.body.next;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(3);
    // Bytewise: page/item-1, page/item-10, page/item-11, …, page/item-2, page/item-20, …
    expect(seen).toEqual([...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(seen.slice(0, 3)).toEqual(['page/item-1', 'page/item-10', 'page/item-11']);
    const all = await admin('GET', '/kv/kvother?limit=1000');
    expect(all.body.keys).toHaveLength(31);
    expect(all.body.next).toBeNull();
    expect(
      (await admin('GET', `/kv/kvother/${encodeURIComponent('page/item-27')}`)).body.value,
    ).toBe('page/item-27');
  });

  it('refuses a value over 64 KiB (413), a bad key, TTL or body (400), naming the field', async () => {
    const big = await admin('PUT', '/kv/kvapp/big', { value: 'x'.repeat(KV_VALUE_MAX_BYTES) });
    expect(big.status).toBe(413);
    expect(big.body.error).toMatchObject({
      code: 'payload_too_large',
      field: 'value',
      limit: KV_VALUE_MAX_BYTES,
    });
    expect(big.body.error.message).toContain('value:');
    // Just under: the JSON text (with its quotes) is what is measured.
    expect(
      (await admin('PUT', '/kv/kvapp/big', { value: 'x'.repeat(KV_VALUE_MAX_BYTES - 2) })).status,
    ).toBe(200);
    const badKey = await admin('PUT', `/kv/kvapp/${encodeURIComponent('sp ace')}`, { value: 1 });
    expect(badKey.status).toBe(400);
    expect(badKey.body.error.message).toMatch(/key: expected 1 to 512 characters/);
    const longKey = await admin('PUT', `/kv/kvapp/${'k'.repeat(513)}`, { value: 1 });
    expect(longKey.status).toBe(400);
    const ttl = await admin('PUT', '/kv/kvapp/t', { value: 1, ttlSeconds: 0 });
    expect(ttl.status).toBe(400);
    expect(ttl.body.error.message).toMatch(/ttlSeconds/);
    const missing = await admin('PUT', '/kv/kvapp/t', { ttlSeconds: 5 });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/value/);
    const nul = await admin('PUT', '/kv/kvapp/t', { value: 'a\u0000b' });
    expect(nul.status).toBe(400);
    expect(nul.body.error.message).toMatch(/NUL/);
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    const tooDeep = await admin('PUT', '/kv/kvapp/t', { value: deep });
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body.error.message).toMatch(/nested deeper than 64/);
    const extra = await admin('PUT', '/kv/kvapp/t', { value: 1, ttl: 5 });
    expect(extra.status).toBe(400);
    expect((await admin('GET', '/kv/Not_A_Name/x')).status).toBe(400);
  });

  it('an integration’s stdio server stores and reads its own value through the API, called via /mcp', async () => {
    const granted = await grantTask(gw(), ['kvapp:*', 'nogrant:*']);
    const { url, token } = granted.mcp;
    const call = async (id: number, name: string, args: Record<string, unknown> = {}) => {
      const res = await post(url, token, toolCall(id, name, args));
      const [answer] = messagesOf(res.headers.get('content-type'), await res.text());
      expect(answer, JSON.stringify(answer)).toHaveProperty('result');
      const result = answer!.result as { content: Array<{ text: string }>; isError?: boolean };
      expect(result.isError ?? false).toBe(false);
      return JSON.parse(result.content[0]!.text) as Json;
    };
    const env = await call(1, 'kvapp__gateway_env');
    expect(env).toMatchObject({
      url: gw().url,
      integration: 'kvapp',
      key: expect.stringMatching(/^sbk_kvapp_/),
    });
    const stored = await call(2, 'kvapp__remember', { key: 'from-the-server', value: { n: 42 } });
    expect(stored).toMatchObject({ status: 200, body: { version: 1 } });
    const recalled = await call(3, 'kvapp__recall', { key: 'from-the-server' });
    expect(recalled).toMatchObject({ status: 200, body: { value: { n: 42 }, version: 1 } });
    // The operator sees what the server wrote, in the server's namespace.
    expect((await admin('GET', '/kv/kvapp/from-the-server')).body.value).toEqual({ n: 42 });
    // Without storage.kv (or documents) the server gets neither the URL nor a key.
    expect(await call(4, 'nogrant__gateway_env')).toMatchObject({
      url: null,
      integration: null,
      key: null,
    });
    // The key's scopes are its grants' (kv:read, kv:write), named after the integration.
    const keys = await admin('GET', '/keys');
    const integrationKeys = (keys.body.keys as Array<Record<string, unknown>>).filter(
      (k) => k.source === 'integration',
    );
    expect(integrationKeys).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ integration: 'kvapp', scopes: ['kv:read', 'kv:write'] }),
      ]),
    );
    expect(integrationKeys.map((k) => k.integration)).not.toContain('nogrant');
  });

  it('lists the kv routes in the OpenAPI document', async () => {
    const doc = await admin('GET', '/openapi.json');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/kv/{integration}', '/kv/{integration}/{key}']),
    );
  });
});
