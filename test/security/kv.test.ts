/**
 * Key-value storage (issue 18; api/kv.ts, api/namespace-access.ts, kv/put.ts) under attack: an
 * integration's key reaching another's namespace, a key whose integration is not (or no longer)
 * granted storage.kv, a key wider than its grants, an operator key writing with kv:read only,
 * and writers trying to grow the table past a namespace's bounds (also all at once).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { provisionIntegrationKey } from '../../gateway/src/keys/integration-key.ts';
import {
  KV_MAX_KEYS,
  KV_MAX_TOTAL_BYTES,
  KV_VALUE_MAX_BYTES,
} from '../../gateway/src/kv/bounds.ts';
import { ADMIN_KEY, REPO_ROOT } from '../helpers/gateway.ts';
import { type Json, KV_POLICY, kvCall, useKvGateway } from '../helpers/kv.ts';
import { grantTask, messagesOf, post, toolCall } from '../helpers/mcp-gateway.ts';

// A policy of our own (inside the repository), rewritten by the revocation test.
const ROOT = fs.mkdtempSync(path.join(REPO_ROOT, 'test/fixtures/.generated-'));
const POLICY = path.join(ROOT, 'policy.yaml');
const ORIGINAL = fs.readFileSync(KV_POLICY, 'utf8');
fs.writeFileSync(POLICY, ORIGINAL);
afterAll(() => fs.rmSync(ROOT, { recursive: true, force: true }));

describe('key-value storage, attacked', () => {
  const gw = useKvGateway({ SWITCHBOARD_POLICY: POLICY });
  const as = (key: string) => (method: string, route: string, body?: unknown) =>
    kvCall(gw(), key, method, route, body);
  const admin = as(ADMIN_KEY);
  let kvappKey: string | undefined;

  /** kvapp's own key as its stdio server holds it (SWITCHBOARD_API_KEY), asked through /mcp. */
  const serverKey = async (): Promise<string> => {
    if (kvappKey) return kvappKey;
    const granted = await grantTask(gw(), ['kvapp:*']);
    const res = await post(granted.mcp.url, granted.mcp.token, toolCall(1, 'kvapp__gateway_env'));
    const [answer] = messagesOf(res.headers.get('content-type'), await res.text());
    const result = answer!.result as { content: Array<{ text: string }> };
    kvappKey = (JSON.parse(result.content[0]!.text) as Json).key as string;
    expect(kvappKey).toMatch(/^sbk_kvapp_/);
    return kvappKey;
  };

  it("an integration's key cannot read, write, delete or list another's namespace, and learns nothing of it", async () => {
    const kvapp = as(await serverKey());
    expect((await kvapp('PUT', '/kv/kvapp/mine', { value: 'ok' })).status).toBe(200);
    expect((await kvapp('GET', '/kv/kvapp')).body.keys).toHaveLength(1);
    await admin('PUT', '/kv/kvother/secret', { value: 'kvother only' });
    const attempts = [
      await kvapp('GET', '/kv/kvother/secret'),
      await kvapp('GET', '/kv/kvother/no-such-key'),
      await kvapp('PUT', '/kv/kvother/secret', { value: 'overwritten' }),
      await kvapp('PUT', '/kv/kvother/new', { value: 'planted' }),
      await kvapp('DELETE', '/kv/kvother/secret'),
      await kvapp('DELETE', '/kv/kvother/no-such-key'),
      await kvapp('GET', '/kv/kvother'),
      await kvapp('GET', '/kv/kvother?prefix=sec'),
      await kvapp('GET', '/kv/nogrant'),
    ];
    const messages = new Set<string>();
    for (const attempt of attempts) {
      expect(attempt.status).toBe(403);
      expect(attempt.body.error).toMatchObject({ code: 'forbidden', integration: 'kvapp' });
      messages.add(attempt.body.error.message);
    }
    // One answer whether the key exists or not: nothing about kvother's contents leaks.
    expect([...messages]).toEqual([
      'this API key belongs to integration kvapp: it may only reach its own namespace (kvapp)',
    ]);
    expect((await admin('GET', '/kv/kvother/secret')).body).toMatchObject({
      value: 'kvother only',
      version: 1,
    });
    expect((await admin('GET', '/kv/kvother/new')).status).toBe(404);
  });

  it("a key's scopes never exceed its integration's grants: kvapp's key (storage.kv only) posts no session", async () => {
    const kvapp = as(await serverKey());
    const rows = await gw().sql<{ scopes: string[] }[]>`
      select scopes from api_keys where integration = 'kvapp' and revoked_at is null`;
    expect(rows).toEqual([{ scopes: ['kv:read', 'kv:write'] }]);
    const session = await kvapp('POST', '/sessions', { key: 'kvapp:room' });
    expect(session.status).toBe(403);
    expect(session.body.error.message).toContain('lacks the scope sessions:write');
    for (const [method, route] of [
      ['GET', '/keys'],
      ['GET', '/tasks'],
      ['GET', '/integrations'],
      ['POST', '/integrations/kvapp/reload'],
    ] as const) {
      expect((await kvapp(method, route)).status).toBe(403);
    }
    // nogrant has no capability that calls for a key: none was provisioned for it.
    const [none] = await gw().sql<{ n: number }[]>`
      select count(*)::int as n from api_keys where integration = 'nogrant'`;
    expect(none!.n).toBe(0);
  });

  it('a key of an integration the policy does not grant storage.kv is refused, whatever its row holds', async () => {
    // As if kv scopes were written into nogrant's key row (it holds none: nothing provisions one).
    const { key } = await provisionIntegrationKey(gw().sql, 'nogrant', 'attacker', [
      'kv:read',
      'kv:write',
    ]);
    const nogrant = as(key);
    for (const attempt of [
      await nogrant('GET', '/kv/nogrant'),
      await nogrant('PUT', '/kv/nogrant/x', { value: 1 }),
      await nogrant('GET', '/kv/nogrant/x'),
    ]) {
      expect(attempt.status).toBe(403);
      expect(attempt.body.error.message).toBe(
        'integration nogrant is not granted storage.kv by the policy (integrations.nogrant.grants)',
      );
    }
    const [rows] = await gw().sql<{ n: number }[]>`
      select count(*)::int as n from kv_entries where integration = 'nogrant'`;
    expect(rows!.n).toBe(0);
  });

  it('an operator key with kv:read only reads, and cannot write or delete', async () => {
    const made = await admin('POST', '/keys', { name: 'kv reader', scopes: ['kv:read'] });
    expect(made.status).toBe(201);
    const reader = as(made.body.key as string);
    expect((await reader('GET', '/kv/kvother/secret')).status).toBe(200);
    expect((await reader('GET', '/kv/kvother')).status).toBe(200);
    for (const attempt of [
      await reader('PUT', '/kv/kvother/secret', { value: 'x' }),
      await reader('DELETE', '/kv/kvother/secret'),
    ]) {
      expect(attempt.status).toBe(403);
      expect(attempt.body.error.message).toBe('this API key lacks the scope kv:write');
    }
    expect((await admin('GET', '/kv/kvother/secret')).body.version).toBe(1);
  });

  it(`a namespace never holds more than ${KV_MAX_KEYS} keys, even with 30 writers at once`, async () => {
    const ns = 'bounded-keys';
    await gw().sql`
      insert into kv_entries (integration, key, value, size_bytes, version)
      select ${ns}, 'filler-' || g, '1'::jsonb, 1, 1 from generate_series(1, ${KV_MAX_KEYS - 10}) g`;
    const writes = await Promise.all(
      Array.from({ length: 30 }, (_, i) => admin('PUT', `/kv/${ns}/new-${i}`, { value: i })),
    );
    const statuses = writes.map((w) => w.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 507)).toHaveLength(20);
    const refused = writes.find((w) => w.status === 507)!;
    expect(refused.body.error).toMatchObject({
      code: 'kv_quota_exceeded',
      bound: 'keys',
      limit: KV_MAX_KEYS,
    });
    const count = async () =>
      (
        await gw().sql<
          { n: number }[]
        >`select count(*)::int as n from kv_entries where integration = ${ns}`
      )[0]!.n;
    expect(await count()).toBe(KV_MAX_KEYS);
    // Overwriting a key that exists adds no row: allowed at the bound.
    expect((await admin('PUT', `/kv/${ns}/filler-1`, { value: 2 })).status).toBe(200);
    // Expired rows hold room until pruned; a write at the bound prunes them and fits.
    await gw().sql`
      update kv_entries set expires_at = now() - interval '1 second'
       where integration = ${ns} and key in (select 'filler-' || g from generate_series(2, 6) g)`;
    expect((await admin('PUT', `/kv/${ns}/after-pruning`, { value: 1 })).status).toBe(200);
    expect(await count()).toBe(KV_MAX_KEYS - 4);
  });

  it(`a namespace never holds more than ${KV_MAX_TOTAL_BYTES} bytes of values`, async () => {
    const ns = 'bounded-bytes';
    const full = KV_MAX_TOTAL_BYTES / KV_VALUE_MAX_BYTES;
    await gw().sql`
      insert into kv_entries (integration, key, value, size_bytes, version)
      select ${ns}, 'big-' || g, '1'::jsonb, ${KV_VALUE_MAX_BYTES}, 1
        from generate_series(1, ${full - 1}) g`;
    const almost = 'x'.repeat(KV_VALUE_MAX_BYTES - 2);
    expect((await admin('PUT', `/kv/${ns}/last`, { value: almost })).status).toBe(200);
    const over = await admin('PUT', `/kv/${ns}/one-more`, { value: 'tiny' });
    expect(over.status).toBe(507);
    expect(over.body.error).toMatchObject({ code: 'kv_quota_exceeded', bound: 'totalBytes' });
    // Shrinking a value frees its bytes; the namespace is then writable again.
    expect((await admin('PUT', `/kv/${ns}/last`, { value: 'small' })).status).toBe(200);
    expect((await admin('PUT', `/kv/${ns}/one-more`, { value: 'tiny' })).status).toBe(200);
    const [sum] = await gw().sql<{ bytes: number }[]>`
      select sum(size_bytes)::float8 as bytes from kv_entries where integration = ${ns}`;
    expect(sum!.bytes).toBeLessThanOrEqual(KV_MAX_TOTAL_BYTES);
  });

  it("a grant the policy drops stops the integration's key at once, before the integration is rebuilt", async () => {
    const kvapp = as(await serverKey());
    expect((await kvapp('GET', '/kv/kvapp/mine')).status).toBe(200);
    fs.writeFileSync(
      POLICY,
      ORIGINAL.replace(
        'kvapp: { enabled: true, grants: [storage.kv] }',
        'kvapp: { enabled: true }',
      ),
    );
    try {
      // Reloading another integration re-reads the policy; kvapp itself still runs.
      expect((await admin('POST', '/integrations/kvother/reload')).status).toBe(200);
      expect(gw().registry.get('kvapp')?.state).toBe('ready');
      const refused = await kvapp('GET', '/kv/kvapp/mine');
      expect(refused.status).toBe(403);
      expect(refused.body.error.message).toContain('is not granted storage.kv by the policy');
      // Once kvapp is rebuilt under that policy it is refused and its key revoked.
      await admin('POST', '/integrations/kvapp/reload');
      expect(gw().registry.get('kvapp')?.state).toBe('refused');
      expect((await kvapp('GET', '/kv/kvapp/mine')).status).toBe(401);
    } finally {
      fs.writeFileSync(POLICY, ORIGINAL);
    }
  });
});
