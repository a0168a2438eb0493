/**
 * A tool approval on one gateway takes effect on every gateway on the database (the bus,
 * gateway/src/db/bus.ts; integrations/tool-pinning.ts TOOL_PINS_CHANNEL). On PostgreSQL: two
 * gateways on one database, the approval made through the first one's API, its LISTEN/NOTIFY
 * reaching the second. On PGlite (one process only): two registries on one database and one
 * in-process bus, as the embedded gateway's own bus is.
 */
import { describe, expect, it } from 'vitest';
import { InProcessBus } from '../../gateway/src/db/bus.ts';
import type { Pool } from '../../gateway/src/db/connect.ts';
import { IntegrationRegistry } from '../../gateway/src/integrations/registry.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { testDatabase, useMigratedDatabase, usingPostgres } from '../helpers/database.ts';
import { ADMIN_KEY, startTestGateway } from '../helpers/gateway.ts';
import { numberedTools, pinningRoot } from '../helpers/pinning.ts';

async function eventually(check: () => Promise<void> | void, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

const tools = numberedTools(26);
const changed = tools.map((t) =>
  t.name === 'tool_12' ? { ...t, description: 'Also posts the record elsewhere' } : t,
);

describe('tool approvals across gateways', () => {
  const db = usingPostgres ? undefined : useMigratedDatabase();

  it(usingPostgres
    ? 'two gateways on one Postgres: approved through the first, the tool reappears on the second'
    : 'two registries on one PGlite and one bus (two processes cannot share it): approved on the first, the tool reappears on the second', async () => {
    const fixture = pinningRoot({ pinned: { tools } });
    try {
      if (usingPostgres) await twoGateways(fixture);
      else await twoRegistries(fixture, db!().sql);
    } finally {
      fixture.cleanup();
    }
  }, 90_000);
});

async function twoGateways(fixture: ReturnType<typeof pinningRoot>): Promise<void> {
  const test = await testDatabase();
  const env = {
    ...test.env,
    SWITCHBOARD_ADMIN_KEY: ADMIN_KEY,
    INTEGRATION_DIRS: fixture.root,
    SWITCHBOARD_POLICY: fixture.policyPath,
  };
  const a = await startTestGateway(env);
  const b = await startTestGateway(env);
  try {
    const call = async (url: string, method: string, route: string) =>
      (await (
        await fetch(`${url}/api/v1${route}`, {
          method,
          headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
          ...(method === 'POST' && { body: '{}' }),
        })
      ).json()) as { integration: { pendingTools: string[] } };
    fixture.write('pinned', changed);
    for (const gw of [a, b]) {
      expect(
        (await call(gw.url, 'POST', '/integrations/pinned/reload')).integration.pendingTools,
      ).toEqual(['tool_12']);
    }
    await call(a.url, 'POST', '/integrations/pinned/approve-tools');
    expect(a.registry.get('pinned')?.toolPins?.pending.size).toBe(0);
    await eventually(async () => {
      expect((await call(b.url, 'GET', '/integrations/pinned')).integration.pendingTools).toEqual(
        [],
      );
    });
  } finally {
    await b.stop();
    await a.stop();
    await test.cleanup();
  }
}

async function twoRegistries(fixture: ReturnType<typeof pinningRoot>, sql: Pool): Promise<void> {
  const bus = new InProcessBus();
  const log = createLogger('error');
  const registries = ['replica-a', 'replica-b'].map(
    (instance) =>
      new IntegrationRegistry({
        sql,
        log,
        config: { integrationDirs: [fixture.root], policyPath: fixture.policyPath },
        masterKey: Buffer.alloc(32, 9),
        env: {},
        gatewayUrl: () => 'http://127.0.0.1:1',
        instance,
        bus,
      }),
  );
  const [a, b] = registries as [IntegrationRegistry, IntegrationRegistry];
  const stops = await Promise.all(registries.map((r) => r.followToolPins()));
  try {
    fixture.write('pinned', tools);
    await a.loadAll();
    await a.whenSettled();
    fixture.write('pinned', changed);
    await b.loadAll();
    await b.whenSettled();
    await a.reload('pinned');
    for (const r of registries) {
      expect([...(r.get('pinned')?.toolPins?.pending.keys() ?? [])]).toEqual(['tool_12']);
    }
    const changes: string[] = [];
    b.onChange((name) => changes.push(name));
    expect(await a.approveTools('pinned', undefined, 'key:test')).toEqual([
      { tool: 'tool_12', hash: expect.stringMatching(/^[0-9a-f]{64}$/) },
    ]);
    await eventually(() => {
      expect(b.get('pinned')?.toolPins?.pending.size).toBe(0);
      // The second registry's change listeners fire: its MCP endpoint tells agents (list_changed).
      expect(changes).toContain('pinned');
    });
  } finally {
    await Promise.all(stops.map((stop) => stop()));
    await Promise.all(registries.map((r) => r.stopAll()));
  }
}
