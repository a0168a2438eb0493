import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, useTestGateway } from '../helpers/gateway.ts';

interface Entry {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string | null;
}
interface Page {
  entries: Entry[];
  next: string | null;
}

/** GET /api/v1/audit's filters (actor, action, target, since, until) and paging (issue 16). */
describe('audit API: filters and paging', () => {
  const gw = useTestGateway();

  const call = (path: string, key = ADMIN_KEY, init: RequestInit = {}) =>
    fetch(`${gw().url}/api/v1${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    });
  const page = async (query: string, key = ADMIN_KEY): Promise<Page> => {
    const res = await call(`/audit?${query}`, key);
    expect(res.status).toBe(200);
    return (await res.json()) as Page;
  };
  const createKey = async (name: string, scopes: string[], key = ADMIN_KEY) => {
    const res = await call('/keys', key, {
      method: 'POST',
      body: JSON.stringify({ name, scopes }),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { key: string; apiKey: { id: string; prefix: string } };
  };

  it('actor, action and target narrow to exact matches; since and until to a time range', async () => {
    const writer = await createKey('audit-writer', ['keys:*', 'tasks:read']);
    const start = new Date();
    const made: Array<{ id: string; prefix: string }> = [];
    for (let i = 0; i < 3; i++)
      made.push((await createKey(`by-writer-${i}`, ['tasks:read'], writer.key)).apiKey);
    const revoked = await call(`/keys/${made[0]!.id}`, writer.key, { method: 'DELETE' });
    expect(revoked.status).toBe(200);

    const byWriter = await page(`actor=${encodeURIComponent(`key:${writer.apiKey.prefix}`)}`);
    expect(byWriter.entries.map((e) => e.action)).toEqual([
      'keys.revoke',
      'keys.create',
      'keys.create',
      'keys.create',
    ]);
    expect(byWriter.next).toBeNull();

    const creates = await page(
      `actor=${encodeURIComponent(`key:${writer.apiKey.prefix}`)}&action=keys.create`,
    );
    expect(creates.entries).toHaveLength(3);
    expect(creates.entries.every((e) => e.action === 'keys.create')).toBe(true);

    const target = await page(`target=${made[0]!.prefix}`);
    expect(target.entries.map((e) => e.action)).toEqual(['keys.revoke', 'keys.create']);

    // The writer's own creation is before `start`: since leaves it out, until keeps only it.
    const since = await page(`since=${encodeURIComponent(start.toISOString())}&action=keys.create`);
    expect(since.entries.map((e) => e.target).sort()).toEqual(made.map((k) => k.prefix).sort());
    const until = await page(
      `until=${encodeURIComponent(start.toISOString())}&action=keys.create&target=${writer.apiKey.prefix}`,
    );
    expect(until.entries).toHaveLength(1);
    const none = await page(
      `until=${encodeURIComponent(start.toISOString())}&target=${made[1]!.prefix}`,
    );
    expect(none.entries).toEqual([]);
  });

  it('pages past id 9 → 10 and 99 → 100 by number, each entry once', async () => {
    for (let i = 0; i < 100; i++) await createKey(`paging-${i}`, ['audit:read']);
    const ids: string[] = [];
    let before: string | null = null;
    for (let n = 0; n < 100; n++) {
      const p = await page(`limit=25&action=keys.create${before ? `&before=${before}` : ''}`);
      ids.push(...p.entries.map((e) => e.id));
      before = p.next;
      if (before === null) break;
    }
    const numbers = ids.map(Number);
    expect(numbers.length).toBeGreaterThanOrEqual(100);
    expect(new Set(numbers).size).toBe(numbers.length);
    expect(numbers).toEqual([...numbers].sort((a, b) => b - a));
    expect(Math.min(...numbers)).toBeLessThan(10);
    expect(Math.max(...numbers)).toBeGreaterThanOrEqual(100);
  });

  it('refuses a bad filter with 400 naming it', async () => {
    for (const [query, field] of [
      ['since=yesterday', 'since'],
      ['until=2026-01-01', 'until'],
      ['before=abc', 'before'],
      ['before=0', 'before'],
      ['actor=', 'actor'],
      ['colour=red', 'colour'],
    ] as const) {
      const res = await call(`/audit?${query}`);
      expect(res.status, query).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.message, query).toContain(field);
    }
  });
});
