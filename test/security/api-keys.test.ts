/**
 * Widening an operator API key: a key that may create keys (`keys:write`) must not mint one
 * that holds more than itself, or `keys:write` alone would be `*`. Each test makes its own keys.
 */
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, useTestGateway } from '../helpers/gateway.ts';

interface Created {
  status: number;
  body: {
    key?: string;
    apiKey?: { scopes: string[] };
    error?: { code: string; message: string; scopes?: string[] };
  };
}

describe('API keys cannot create wider keys', () => {
  const gw = useTestGateway();

  const create = async (by: string, name: string, scopes: string[]): Promise<Created> => {
    const res = await fetch(`${gw().url}/api/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${by}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name, scopes }),
    });
    return { status: res.status, body: (await res.json()) as Created['body'] };
  };

  /** A key made by the admin key, for the attack to start from. */
  const keyWith = async (scopes: string[]): Promise<string> => {
    const made = await create(ADMIN_KEY, `holds ${scopes.join(',')}`, scopes);
    expect(made.status).toBe(201);
    return made.body.key!;
  };

  const storedKeys = async (name: string) =>
    (
      await gw().sql<{ n: number }[]>`select count(*)::int as n from api_keys where name = ${name}`
    )[0]!.n;

  it('a keys:write key cannot create a * key', async () => {
    const writer = await keyWith(['keys:write']);
    const res = await create(writer, 'escalated-star', ['*']);
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({
      code: 'forbidden',
      message: expect.stringContaining('"*"'),
      scopes: ['*'],
    });
    expect(await storedKeys('escalated-star')).toBe(0);
  });

  it('a keys:write key cannot grant tasks:write, nor keys:* (it cannot read keys)', async () => {
    const writer = await keyWith(['keys:write']);
    const tasks = await create(writer, 'escalated-tasks', ['keys:write', 'tasks:write']);
    expect(tasks.status).toBe(403);
    expect(tasks.body.error).toMatchObject({ code: 'forbidden', scopes: ['tasks:write'] });
    expect(tasks.body.error!.message).toContain('tasks:write');
    const both = await create(writer, 'escalated-keys', ['keys:*']);
    expect(both.status).toBe(403);
    expect(both.body.error).toMatchObject({ code: 'forbidden', scopes: ['keys:*'] });
    expect(await storedKeys('escalated-tasks')).toBe(0);
    expect(await storedKeys('escalated-keys')).toBe(0);
    // The created key can then use only what it was given.
    const same = await create(writer, 'same', ['keys:write']);
    expect(same.status).toBe(201);
    expect(same.body.apiKey!.scopes).toEqual(['keys:write']);
  });

  it('a key may grant any part of what it holds: verbs of a resource:*, a resource:* from both verbs', async () => {
    const holder = await keyWith(['keys:write', 'tasks:*', 'audit:read', 'audit:write']);
    for (const scopes of [
      ['tasks:read'],
      ['tasks:write', 'tasks:read'],
      ['tasks:*'],
      ['audit:*'],
      ['keys:write', 'tasks:*', 'audit:read'],
    ]) {
      const res = await create(holder, `part ${scopes.join(',')}`, scopes);
      expect({ scopes, status: res.status }).toEqual({ scopes, status: 201 });
      expect(res.body.apiKey!.scopes).toEqual(scopes);
    }
    const wider = await create(holder, 'wider', ['tasks:*', 'sessions:read', 'keys:read']);
    expect(wider.status).toBe(403);
    expect(wider.body.error!.scopes).toEqual(['sessions:read', 'keys:read']);
  });

  it('the admin key (*) still creates any key, * included', async () => {
    const star = await create(ADMIN_KEY, 'another-admin', ['*']);
    expect(star.status).toBe(201);
    expect(star.body.apiKey!.scopes).toEqual(['*']);
    // A * key made by it may itself make * keys.
    const again = await create(star.body.key!, 'third-admin', ['*', 'tasks:write']);
    expect(again.status).toBe(201);
  });
});
