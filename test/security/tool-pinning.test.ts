/**
 * Hostile pass on tool pinning (issue 15, gateway/src/integrations/tool-pinning.ts): who can
 * approve a changed definition, whether a server can dodge its pins (rename, remove and return,
 * oversize), and whether the pins table stays bounded. Real gateway, real stdio server
 * (test/fixtures/mcp-servers/pinning-server.ts), real keys and tokens, PGlite and PostgreSQL.
 */
import type { Tool } from '@modelcontextprotocol/client';
import { afterAll, describe, expect, it } from 'vitest';
import { CATALOG_LIMITS } from '../../gateway/src/integrations/tool-catalog.ts';
import { evaluatePins } from '../../gateway/src/integrations/tool-pinning.ts';
import { MAX_UNLISTED_PINS } from '../../gateway/src/integrations/tool-pins-store.ts';
import { generateApiKey } from '../../gateway/src/keys/format.ts';
import { provisionIntegrationKey } from '../../gateway/src/keys/integration-key.ts';
import { insertApiKey } from '../../gateway/src/keys/store.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { ADMIN_KEY, useTestGateway } from '../helpers/gateway.ts';
import { numberedTools, pinningRoot } from '../helpers/pinning.ts';

describe('tool pinning under attack', () => {
  const tools = numberedTools(26);
  const fixture = pinningRoot({
    pinned: { tools },
    strict: { toolPinning: 'operator', tools: numberedTools(3, 'op') },
  });
  const gw = useTestGateway({
    INTEGRATION_DIRS: fixture.root,
    SWITCHBOARD_POLICY: fixture.policyPath,
  });
  afterAll(() => fixture.cleanup());

  const request = async (key: string, method: string, route: string, body?: unknown) => {
    const res = await fetch(`${gw().url}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    // biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; the API validates them
    return { status: res.status, json: (await res.json()) as Record<string, any> };
  };
  const admin = (method: string, route: string, body?: unknown) =>
    request(ADMIN_KEY, method, route, body);
  const pending = async (name: string): Promise<string[]> =>
    (await admin('GET', `/integrations/${name}`)).json.integration.pendingTools;
  const restartWith = async (name: string, defs: Tool[]) => {
    fixture.write(name, defs);
    const reload = await admin('POST', `/integrations/${name}/reload`);
    expect(reload.status).toBe(200);
    return reload.json.integration;
  };
  const pins = (integration: string) =>
    gw().sql<{ tool: string; definition: { description?: string } }[]>`
      select tool, definition from tool_pins where integration = ${integration} order by tool`;

  it('an integration cannot approve its own change: its process key, a bound key and a task token are refused', async () => {
    await restartWith(
      'pinned',
      tools.map((t) =>
        t.name === 'tool_04' ? { ...t, description: 'Now also deletes the record' } : t,
      ),
    );
    expect(await pending('pinned')).toEqual(['tool_04']);

    const processKey = await provisionIntegrationKey(gw().sql, 'pinned');
    const byProcess = await request(
      processKey.key,
      'POST',
      '/integrations/pinned/approve-tools',
      {},
    );
    expect(byProcess.status).toBe(403);

    // Even a key bound to the integration that somehow held integrations:write is refused.
    const bound = generateApiKey('pinned');
    await insertApiKey(gw().sql, {
      prefix: bound.prefix,
      hash: bound.hash,
      name: 'integration:pinned',
      scopes: ['integrations:write', 'integrations:read'],
      source: 'integration',
      integration: 'pinned',
      createdBy: 'test',
    });
    const byBound = await request(bound.key, 'POST', '/integrations/pinned/approve-tools', {});
    expect(byBound.status).toBe(403);
    expect(byBound.json.error.message).toContain('process key cannot approve');

    const reader = await admin('POST', '/keys', { name: 'reader', scopes: ['integrations:read'] });
    const byReader = await request(
      reader.json.key,
      'POST',
      '/integrations/pinned/approve-tools',
      {},
    );
    expect(byReader.status).toBe(403);

    const task = await admin('POST', '/tasks', { external: true, scope: ['pinned:*'] });
    const byToken = await request(
      task.json.mcp.token,
      'POST',
      '/integrations/pinned/approve-tools',
      {},
    );
    expect(byToken.status).toBe(401);

    expect(await pending('pinned')).toEqual(['tool_04']);
    const audits = await gw()
      .sql`select 1 from audit_log where action = 'integrations.approve-tools'`;
    expect(audits).toHaveLength(0);
  });

  it('only a pending tool can be approved (no pre-approving a definition not yet listed); bodies are bounded', async () => {
    const early = await admin('POST', '/integrations/pinned/approve-tools', { tools: ['tool_05'] });
    expect(early.status).toBe(400);
    expect(early.json.error.message).toContain(
      '"tool_05" does not await approval; waiting: tool_04',
    );
    const tooMany = await admin('POST', '/integrations/pinned/approve-tools', {
      tools: Array.from({ length: CATALOG_LIMITS.tools + 1 }, (_, n) => `t${n}`),
    });
    expect(tooMany.status).toBe(400);
    const extra = await admin('POST', '/integrations/pinned/approve-tools', { hash: 'x' });
    expect(extra.status).toBe(400);
    const ok = await admin('POST', '/integrations/pinned/approve-tools', { tools: ['tool_04'] });
    expect(ok.json.approved).toEqual(['tool_04']);
    tools.splice(4, 1, { ...tools[4]!, description: 'Now also deletes the record' });
  });

  it('a rename does not dodge toolPinning: operator; under first-sight the new name is pinned as first seen (the documented trade-off)', async () => {
    await admin('POST', '/integrations/strict/approve-tools', {});
    expect(await pending('strict')).toEqual([]);
    await restartWith('strict', [
      ...numberedTools(3, 'op').filter((t) => t.name !== 'op_01'),
      { ...numberedTools(3, 'op')[1]!, name: 'op_01_v2', description: 'Sends the record out' },
    ]);
    expect(await pending('strict')).toEqual(['op_01_v2']);

    const renamed = tools.map((t) =>
      t.name === 'tool_09' ? { ...t, name: 'tool_09_v2', description: 'Sends the record out' } : t,
    );
    await restartWith('pinned', renamed);
    expect(await pending('pinned')).toEqual([]);
    const rows = await pins('pinned');
    expect(rows.map((r) => r.tool)).toContain('tool_09_v2');
    // The old name's pin stays: the tool brought back changed is still caught.
    expect(rows.map((r) => r.tool)).toContain('tool_09');
    await restartWith(
      'pinned',
      tools.map((t) => (t.name === 'tool_09' ? { ...t, description: 'Sends the record out' } : t)),
    );
    expect(await pending('pinned')).toEqual(['tool_09']);
    await restartWith('pinned', tools);
    expect(await pending('pinned')).toEqual([]);
  });

  it('a huge description is cut before it is hashed, published or stored; a huge schema leaves the tool out, unpinned', async () => {
    const huge = [
      ...tools,
      { ...tools[0]!, name: 'long_words', description: 'x'.repeat(200_000) },
      {
        ...tools[0]!,
        name: 'huge_schema',
        inputSchema: {
          type: 'object' as const,
          properties: Object.fromEntries(
            Array.from({ length: 3000 }, (_, n) => [
              `p${n}`,
              { type: 'string', description: 'y'.repeat(20) },
            ]),
          ),
        },
      },
    ];
    const item = await restartWith('pinned', huge);
    expect(item.state).toBe('ready');
    const rows = await pins('pinned');
    const long = rows.find((r) => r.tool === 'long_words');
    expect(long?.definition.description?.length).toBe(CATALOG_LIMITS.descriptionChars);
    expect(rows.map((r) => r.tool)).not.toContain('huge_schema');
    const detail = await admin('GET', '/integrations/pinned');
    const listed = detail.json.integration.toolDetails as Array<{
      name: string;
      description: string;
    }>;
    expect(listed.find((t) => t.name === 'long_words')?.description.length).toBe(
      CATALOG_LIMITS.descriptionChars,
    );
    expect(listed.map((t) => t.name)).not.toContain('huge_schema');
    await restartWith('pinned', tools);
  });

  it('the pins table does not grow without bound: a server renaming 1,000 tools each start keeps ≤ 2,000 rows', async () => {
    const log = createLogger('error');
    const integration = 'churn';
    for (let round = 0; round < 3; round++) {
      const batch = numberedTools(CATALOG_LIMITS.tools, `r${round}`);
      const state = await evaluatePins(gw().sql, log, integration, batch, 'first-sight', new Set());
      expect(state.pending.size).toBe(0);
    }
    const [count] = await gw().sql<{ n: number }[]>`
      select count(*)::int as n from tool_pins where integration = ${integration}`;
    expect(count?.n).toBe(CATALOG_LIMITS.tools + MAX_UNLISTED_PINS);
    // The newest unlisted ones are kept (round 1), the oldest (round 0) pruned.
    const [oldest] = await gw().sql<{ n: number }[]>`
      select count(*)::int as n from tool_pins
       where integration = ${integration} and tool like 'r0\\_%'`;
    expect(oldest?.n).toBe(0);
    const [kept] = await gw().sql<{ n: number }[]>`
      select count(*)::int as n from tool_pins
       where integration = ${integration} and tool like 'r1\\_%'`;
    expect(kept?.n).toBe(MAX_UNLISTED_PINS);
  });
});
