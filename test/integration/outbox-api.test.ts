import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, useTestGateway } from '../helpers/gateway.ts';

// The outbox and subscriptions API (issue 6 req 3, 4) with scopes. This gateway runs no outbox
// worker (gateway.ts wires it later), so rows keep the status a test gives them.
// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; the API validates them
type Json = Record<string, any>;

describe('outbox and subscriptions API', () => {
  const gw = useTestGateway();
  const call = async (method: string, route: string, key = ADMIN_KEY, body?: unknown) => {
    const res = await fetch(`${gw().url}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Json };
  };
  const deadRow = async (secret?: string) => {
    const target = { type: 'webhook', config: { url: 'http://127.0.0.1:9/', secret } };
    const [row] = await gw().sql<{ id: string }[]>`
      insert into outbox (kind, target, payload, status, attempts, dead_at, last_error)
      values ('dispatch', ${gw().sql.json(target)}, '{"task":{}}', 'dead', 10, now(), 'HTTP 500')
      returning id::text`;
    return row!.id;
  };

  it('lists, shows and redrives dead entries; 409 when not dead; audited (req 4)', async () => {
    const one = await deadRow('s3cret');
    const two = await deadRow();
    const three = await deadRow();
    const list = await call('GET', '/outbox?status=dead&kind=dispatch&limit=2');
    expect(list.status, JSON.stringify(list.json)).toBe(200);
    expect(list.json.entries.map((e: Json) => e.id)).toEqual([three, two]);
    expect(list.json.next).toBe(two);
    const rest = await call('GET', `/outbox?status=dead&cursor=${list.json.next}`);
    expect(rest.json.entries.map((e: Json) => e.id)).toEqual([one]);
    const shown = await call('GET', `/outbox/${one}`);
    expect(shown.json.entry).toMatchObject({ id: one, status: 'dead', attempts: 10 });
    expect(shown.json.entry.target.config.secret).toBe('***');
    for (const missing of ['999999', 'nope']) {
      expect(await call('GET', `/outbox/${missing}`)).toMatchObject({
        status: 404,
        json: { error: { code: 'not_found', message: `no outbox entry "${missing}"` } },
      });
    }

    const redriven = await call('POST', `/outbox/${one}/redrive`);
    expect(redriven.json.entry).toMatchObject({ status: 'pending', attempts: 0, deadAt: null });
    const again = await call('POST', `/outbox/${one}/redrive`);
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('outbox_not_dead');
    const all = await call('POST', '/outbox/redrive');
    expect(all.json).toEqual({ redriven: 2 });
    expect((await call('GET', '/outbox?status=dead')).json.entries).toEqual([]);
    const audit = await call('GET', '/audit?action=outbox.redrive_all');
    expect(audit.json.entries[0].details).toEqual({ count: 2 });
  });

  it('creates (secret once), lists (no secret) and deletes subscriptions; http(s) only (req 3)', async () => {
    const created = await call('POST', '/subscriptions', ADMIN_KEY, {
      url: 'https://example.com/hook',
      types: ['task:done', 'task:*'],
      description: 'ops',
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    expect(created.json.secret).toMatch(/^whsec_/);
    const listed = await call('GET', '/subscriptions');
    expect(listed.json.subscriptions).toEqual([created.json.subscription]);
    expect(JSON.stringify(listed.json)).not.toContain(created.json.secret);
    for (const [body, path] of [
      [{ url: 'ftp://example.com/x', types: ['*'] }, 'url'],
      [{ url: 'https://example.com', types: [] }, 'types'],
      [{ url: 'https://example.com', types: ['task'] }, 'types[0]'],
    ] as const) {
      expect(await call('POST', '/subscriptions', ADMIN_KEY, body)).toMatchObject({
        status: 400,
        json: { error: { code: 'invalid_request', issues: [expect.objectContaining({ path })] } },
      });
    }
    const id = created.json.subscription.id;
    expect((await call('DELETE', `/subscriptions/${id}`)).status).toBe(200);
    expect(await call('DELETE', `/subscriptions/${id}`)).toMatchObject({
      status: 404,
      json: { error: { code: 'not_found' } },
    });
    expect((await call('GET', '/subscriptions')).json.subscriptions).toEqual([]);
  });

  it('needs a key (401) with the right scope (403) (req 3, 4)', async () => {
    expect(await call('GET', '/outbox', 'not-a-key')).toMatchObject({
      status: 401,
      json: { error: { code: 'unauthorized' } },
    });
    const made = await call('POST', '/keys', ADMIN_KEY, {
      name: 'reader',
      scopes: ['outbox:read', 'subscriptions:read'],
    });
    const reader = made.json.key as string;
    expect((await call('GET', '/outbox', reader)).status).toBe(200);
    expect((await call('GET', '/subscriptions', reader)).status).toBe(200);
    expect(await call('POST', '/outbox/redrive', reader)).toMatchObject({
      status: 403,
      json: { error: { code: 'forbidden', requiredScope: 'outbox:write' } },
    });
    const body = { url: 'https://example.com', types: ['*'] };
    expect(await call('POST', '/subscriptions', reader, body)).toMatchObject({
      status: 403,
      json: { error: { code: 'forbidden', requiredScope: 'subscriptions:write' } },
    });
  });
});
