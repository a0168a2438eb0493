import { describe, expect, it } from 'vitest';
import { createKey } from '../helpers/console.ts';
import { integrationKey } from '../helpers/documents.ts';
import { egressRecord } from '../helpers/egress.ts';
import { ADMIN_KEY, useTestGateway } from '../helpers/gateway.ts';

// Issue 21: who may read the egress connection log. It says where every integration went (hosts,
// bytes, tasks): an operator's audit, never an integration's. Only keys with audit:read.

const gw = useTestGateway();

async function status(key: string, route = '/egress'): Promise<number> {
  const res = await fetch(`${gw().url}/api/v1${route}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  await res.arrayBuffer();
  return res.status;
}

describe('egress log access', () => {
  it('answers only keys with audit:read', async () => {
    const audit = gw().egress!.audit;
    audit.record(egressRecord({ integration: 'alpha' }));
    await audit.flush();
    const reader = await createKey(gw().url, 'auditor', ['audit:read']);
    const tasks = await createKey(gw().url, 'tasks', ['tasks:read', 'integrations:read']);
    // An integration's process key: it reads where no integration went, not even its own.
    const processKey = await integrationKey(gw(), 'alpha');
    expect(await status(ADMIN_KEY)).toBe(200);
    expect(await status(reader.key)).toBe(200);
    expect(await status(tasks.key)).toBe(403);
    expect(await status(processKey)).toBe(403);
    expect(await status('sb_not_a_key')).toBe(401);
  });

  it('refuses a page size past 500 and a before that is not an id (no unbounded reads)', async () => {
    expect(await status(ADMIN_KEY, '/egress?limit=501')).toBe(400);
    expect(await status(ADMIN_KEY, '/egress?limit=100000000')).toBe(400);
    expect(await status(ADMIN_KEY, '/egress?before=1%20or%201=1')).toBe(400);
    expect(await status(ADMIN_KEY, `/egress?before=${'9'.repeat(30)}`)).toBe(400);
    expect(await status(ADMIN_KEY, `/egress?host=${'a'.repeat(300)}`)).toBe(400);
  });
});
