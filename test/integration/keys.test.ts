import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { envKeyPrefix, hashApiKey, keyPrefix } from '../../gateway/src/keys/format.ts';
import { syncEnvAdminKey } from '../../gateway/src/keys/store.ts';
import { ADMIN_KEY, useTestGateway } from '../helpers/gateway.ts';

describe('operator API keys', () => {
  const gw = useTestGateway();

  const call = (path: string, key?: string, init: RequestInit = {}) =>
    fetch(`${gw().url}/api/v1${path}`, {
      ...init,
      headers: {
        'content-type': 'application/json',
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(init.headers as Record<string, string>),
      },
    });

  async function createKey(name: string, scopes: string[]): Promise<string> {
    const res = await call('/keys', ADMIN_KEY, {
      method: 'POST',
      body: JSON.stringify({ name, scopes }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { key: string }).key;
  }

  it('a request without a key is 401 with a Bearer challenge', async () => {
    const res = await call('/keys');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="switchboard"');
    expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it('an unknown key is 401', async () => {
    const res = await call('/keys', `sbk_${'A'.repeat(43)}`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({
      error: { code: 'unauthorized', message: 'invalid or revoked API key' },
    });
  });

  it('a key without the route scope is 403 naming the scope', async () => {
    const reader = await createKey('reader', ['keys:read']);
    expect((await call('/keys', reader)).status).toBe(200);
    const res = await call('/keys', reader, {
      method: 'POST',
      body: JSON.stringify({ name: 'x', scopes: ['*'] }),
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({
      error: { code: 'forbidden', requiredScope: 'keys:write' },
    });
    const audit = await call('/audit', reader);
    expect(audit.status).toBe(403);
    expect(await audit.json()).toMatchObject({
      error: { code: 'forbidden', requiredScope: 'audit:read' },
    });
  });

  it('a revoked key is 401 from then on', async () => {
    const key = await createKey('short-lived', ['keys:read']);
    expect((await call('/keys', key)).status).toBe(200);
    const del = await call(`/keys/${keyPrefix(key)}`, ADMIN_KEY, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(await del.json()).toMatchObject({ apiKey: { name: 'short-lived' } });
    const after = await call('/keys', key);
    expect(after.status).toBe(401);
    expect(await after.json()).toMatchObject({
      error: { code: 'unauthorized', message: 'invalid or revoked API key' },
    });
  });

  it('stores only the SHA-256 of a key, never the key', async () => {
    const key = await createKey('hashed', ['audit:read']);
    const rows = await gw().sql`select to_jsonb(k)::text as row, hash from api_keys k`;
    expect(rows.some((r) => (r.row as string).includes(key))).toBe(false);
    expect(rows.some((r) => (r.row as string).includes(key.slice(12)))).toBe(false);
    const hashes = rows.map((r) => Buffer.from(r.hash as Uint8Array).toString('hex'));
    expect(hashes).toContain(createHash('sha256').update(key).digest('hex'));
    // The operator-chosen admin key is not shown even in part: its prefix comes from its hash.
    expect(rows.some((r) => (r.row as string).includes(ADMIN_KEY.slice(0, 10)))).toBe(false);
    const audit = await gw().sql`select to_jsonb(a)::text as row from audit_log a`;
    expect(audit.some((r) => (r.row as string).includes(key.slice(12)))).toBe(false);
  });

  it('lists keys without hashes, revoked ones on request', async () => {
    // Its own keys: the test runs alone (-t) as well as after the others.
    const live = keyPrefix(await createKey('listed-live', ['keys:read']));
    const revoked = keyPrefix(await createKey('listed-revoked', ['keys:read']));
    expect((await call(`/keys/${revoked}`, ADMIN_KEY, { method: 'DELETE' })).status).toBe(200);
    const res = await call('/keys', ADMIN_KEY);
    const { keys } = (await res.json()) as { keys: Array<Record<string, unknown>> };
    const prefixes = keys.map((k) => k.prefix);
    expect(prefixes).toContain(live);
    expect(prefixes).not.toContain(revoked);
    expect(keys.every((k) => !('hash' in k) && k.revokedAt === null)).toBe(true);
    const all = await call('/keys?includeRevoked=true', ADMIN_KEY);
    const allKeys = ((await all.json()) as { keys: Array<Record<string, unknown>> }).keys;
    expect(allKeys.find((k) => k.prefix === revoked)).toMatchObject({
      name: 'listed-revoked',
      revokedAt: expect.any(String),
    });
    expect(allKeys.find((k) => k.prefix === live)).toMatchObject({ revokedAt: null });
    expect(allKeys.some((k) => 'hash' in k)).toBe(false);
  });

  it('rejects a bad body naming each field and what was expected', async () => {
    const res = await call('/keys', ADMIN_KEY, {
      method: 'POST',
      body: JSON.stringify({ name: '', scopes: ['keys:read', 'root'], extra: 1 }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; issues: unknown[] } };
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.issues).toEqual(
      expect.arrayContaining([
        { path: 'name', message: 'expected a non-empty name' },
        expect.objectContaining({
          path: 'scopes[1]',
          message: expect.stringContaining('unknown scope "root"'),
        }),
        expect.objectContaining({ path: '', message: expect.stringContaining('extra') }),
      ]),
    );
  });

  it('writes an audit row for every change made with a key, with the actor and request id', async () => {
    const before = Number((await gw().sql`select count(*) as n from audit_log`)[0]?.n);
    const res = await call('/keys', ADMIN_KEY, {
      method: 'POST',
      headers: { 'x-request-id': 'audit-me' },
      body: JSON.stringify({ name: 'audited', scopes: ['tasks:read'] }),
    });
    const created = (await res.json()) as { apiKey: { prefix: string } };
    await call(`/keys/${created.apiKey.prefix}`, ADMIN_KEY, { method: 'DELETE' });
    // Reads change nothing and are not audited.
    await call('/keys', ADMIN_KEY);
    const after = Number((await gw().sql`select count(*) as n from audit_log`)[0]?.n);
    expect(after - before).toBe(2);
    const audit = await call('/audit?limit=2', ADMIN_KEY);
    const { entries } = (await audit.json()) as { entries: Array<Record<string, unknown>> };
    expect(entries).toMatchObject([
      {
        action: 'keys.revoke',
        target: created.apiKey.prefix,
        actor: `key:${envKeyPrefix(ADMIN_KEY)}`,
      },
      {
        action: 'keys.create',
        target: created.apiKey.prefix,
        requestId: 'audit-me',
        details: { name: 'audited', scopes: ['tasks:read'] },
      },
    ]);
  });

  it('SWITCHBOARD_ADMIN_KEY follows the variable: a new value revokes the old key', async () => {
    const next = 'another-admin-key-fedcba9876543210fedcba9876543210';
    await syncEnvAdminKey(gw().sql, { prefix: envKeyPrefix(next), hash: hashApiKey(next) });
    const old = await call('/keys', ADMIN_KEY);
    expect(old.status).toBe(401);
    expect(await old.json()).toMatchObject({
      error: { code: 'unauthorized', message: 'invalid or revoked API key' },
    });
    expect((await call('/keys', next)).status).toBe(200);
    await syncEnvAdminKey(gw().sql, {
      prefix: envKeyPrefix(ADMIN_KEY),
      hash: hashApiKey(ADMIN_KEY),
    });
    expect((await call('/keys', ADMIN_KEY)).status).toBe(200);
    const replaced = await call('/keys', next);
    expect(replaced.status).toBe(401);
    expect(await replaced.json()).toMatchObject({
      error: { code: 'unauthorized', message: 'invalid or revoked API key' },
    });
  });

  it('replicas booting at once sync a new SWITCHBOARD_ADMIN_KEY together: one row, none fails', async () => {
    // Regression (issue 19, the replica suite in CI): three replicas on a fresh database inserted
    // the same key at once and one failed to start on the `prefix` index. On PostgreSQL these
    // run on separate pool connections; on PGlite (one connection) they queue.
    // 20 fresh keys, each synced by 8 at once: the race window is one insert wide.
    let fresh = '';
    for (let round = 0; round < 20; round += 1) {
      fresh = `replicas-admin-key-${round}-0123456789abcdef0123456789abcdef`;
      const key = { prefix: envKeyPrefix(fresh), hash: hashApiKey(fresh) };
      await Promise.all(Array.from({ length: 8 }, () => syncEnvAdminKey(gw().sql, key)));
    }
    const rows = await gw().sql<{ n: number }[]>`
      select count(*)::int as n from api_keys where source = 'env' and revoked_at is null`;
    expect(rows[0]?.n).toBe(1);
    expect((await call('/keys', fresh)).status).toBe(200);
    await syncEnvAdminKey(gw().sql, {
      prefix: envKeyPrefix(ADMIN_KEY),
      hash: hashApiKey(ADMIN_KEY),
    });
  });
});
