/**
 * Tool catalogs as an attack (issue 13 items 3 and 11): an integration listing more tools,
 * pages or bytes than the gateway keeps is refused with `catalog_too_large` (at its start and
 * when a list_changed makes it grow) while the others keep working; names the aggregate /mcp
 * would drop are listed on no endpoint, a duplicate once; 1,000 tools still page on both
 * endpoints; arguments nested too deeply are the request's fault, not the upstream's.
 */
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, type TestGateway } from '../helpers/gateway.ts';
import { useHostileGateway } from '../helpers/hostile.ts';
import {
  eventually,
  grantTask,
  integrationOf,
  LEGACY_VERSION,
  messagesOf,
  post,
  toolCall,
  toolEvents,
} from '../helpers/mcp-gateway.ts';

interface Listed {
  tools: Array<{ name: string; description?: string }>;
  nextCursor?: string;
}

async function rpc(url: string, token: string, body: unknown): Promise<Record<string, unknown>> {
  return answerOf(await post(url, token, body));
}

async function answerOf(res: Response): Promise<Record<string, unknown>> {
  const [message] = messagesOf(res.headers.get('content-type'), await res.text());
  if (!message) throw new Error(`no answer (HTTP ${res.status})`);
  return message;
}

/** Every page of tools/list: the names in order, and how many pages it took. */
async function listAll(
  url: string,
  token: string,
): Promise<{ tools: Listed['tools']; pages: number }> {
  const tools: Listed['tools'] = [];
  let cursor: string | undefined;
  for (let pages = 1; pages <= 100; pages++) {
    const answer = await rpc(url, token, {
      jsonrpc: '2.0',
      id: pages,
      method: 'tools/list',
      ...(cursor && { params: { cursor } }),
    });
    if (answer.error) throw new Error(JSON.stringify(answer.error));
    const result = answer.result as Listed;
    tools.push(...result.tools);
    if (!result.nextCursor) return { tools, pages };
    cursor = result.nextCursor;
  }
  throw new Error('tools/list did not end in 100 pages');
}

async function integration(gw: TestGateway, name: string) {
  const res = await fetch(`${gw.url}/api/v1/integrations/${name}`, {
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
  });
  expect(res.status).toBe(200);
  return (
    (await res.json()) as {
      integration: { state: string; reasons: Array<{ code: string; message: string }> };
    }
  ).integration;
}

/** The quiet copy still lists and calls, through its own endpoint and the aggregate. */
async function quietWorks(gw: TestGateway): Promise<void> {
  const granted = await grantTask(gw, ['quiet:*']);
  const quiet = integrationOf(granted, 'quiet');
  const own = await listAll(quiet.url, quiet.token);
  expect(own.tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'sleep']));
  const aggregate = await listAll(granted.mcp.url, granted.mcp.token);
  expect(aggregate.tools.map((t) => t.name)).toEqual(
    expect.arrayContaining(['quiet__echo', 'quiet__sleep']),
  );
  const called = await rpc(quiet.url, quiet.token, toolCall(1, 'echo', { text: 'still here' }));
  expect(called.result).toEqual({ content: [{ type: 'text', text: 'still here' }] });
}

function tooLargeLog(gw: TestGateway, limit: string): Record<string, unknown> | undefined {
  return gw.logs.lines.find(
    (l) => l.msg === 'tool catalog too large; integration refused' && l.limit === limit,
  );
}

describe('an integration listing more than 1,000 tools', () => {
  const gw = useHostileGateway({ quiet: true, settings: { HOSTILE_TOOLS: '1500' } });

  it('is refused with catalog_too_large, named in the API and the log; the quiet one works', async () => {
    const hostile = await integration(gw(), 'hostile');
    expect(hostile.state).toBe('refused');
    expect(hostile.reasons).toEqual([
      { code: 'catalog_too_large', message: expect.stringContaining('more than 1000 tools') },
    ]);
    expect(tooLargeLog(gw(), 'tools')).toMatchObject({ integration: 'hostile', max: 1000 });
    // Reading stopped at the bound: the 1,500 were never all taken in.
    expect(tooLargeLog(gw(), 'tools')?.value).toBe(1001);
    await quietWorks(gw());
  });
});

describe('an integration whose tools/list never stops paging', () => {
  // 150 tools one per page: 150 pages, past the bound of 100.
  const gw = useHostileGateway({
    quiet: true,
    settings: { HOSTILE_TOOLS: '150', HOSTILE_PAGE: '1' },
  });

  it('is refused after 100 pages, no more read', async () => {
    const hostile = await integration(gw(), 'hostile');
    expect(hostile.state).toBe('refused');
    expect(hostile.reasons[0]?.code).toBe('catalog_too_large');
    expect(tooLargeLog(gw(), 'pages')).toMatchObject({ integration: 'hostile', value: 100 });
    await quietWorks(gw());
  });
});

describe('an integration whose tool definitions pass 4 MB', () => {
  // 110 tools of ~40 KB each: ~4.4 MB, every one under the 64 KB schema bound.
  const gw = useHostileGateway({ quiet: true, settings: { HOSTILE_FAT_TOOLS: '110' } });

  it('is refused with catalog_too_large on bytes', async () => {
    const hostile = await integration(gw(), 'hostile');
    expect(hostile.state).toBe('refused');
    expect(hostile.reasons[0]).toMatchObject({
      code: 'catalog_too_large',
      message: expect.stringContaining('bytes'),
    });
    const logged = tooLargeLog(gw(), 'catalogBytes');
    expect(logged).toMatchObject({ integration: 'hostile', max: 4 * 1024 * 1024 });
    // Stopped at the tool that passed the bound, not after reading all 110.
    expect(logged?.value as number).toBeLessThan(4 * 1024 * 1024 + 64 * 1024);
    await quietWorks(gw());
  });
});

describe('an integration that grows past the bound after it started', () => {
  const gw = useHostileGateway({ quiet: true, settings: { HOSTILE_GROW: '1200' } });

  it('is refused once the catalog re-reads it after list_changed', async () => {
    const granted = await grantTask(gw(), ['hostile:*', 'quiet:*']);
    const hostile = integrationOf(granted, 'hostile');
    expect((await integration(gw(), 'hostile')).state).toBe('ready');
    // Lists once, so the catalog holds the list and hears list_changed.
    expect((await listAll(hostile.url, hostile.token)).tools.map((t) => t.name)).toContain('grow');
    const grown = await rpc(hostile.url, hostile.token, toolCall(1, 'grow'));
    expect(grown.result).toEqual({ content: [{ type: 'text', text: 'grew 1200' }] });
    // The next listing re-reads the upstream and passes the bound.
    await rpc(granted.mcp.url, granted.mcp.token, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
    await eventually(async () => {
      const now = await integration(gw(), 'hostile');
      expect(now.state).toBe('refused');
      expect(now.reasons[0]?.code).toBe('catalog_too_large');
    });
    await quietWorks(gw());
  });
});

describe('tool names the aggregate cannot publish', () => {
  const gw = useHostileGateway({
    settings: { HOSTILE_BAD_NAMES: '1', HOSTILE_DEEP: '1', HOSTILE_BEHAVIOURS: 'basic,catalog' },
    // Arguments are recorded in task events: a too-deep one must not break their writes.
    policy: '    audit: { arguments: true }\n',
  });

  it('are listed on neither /mcp/hostile nor /mcp, which list the same tools', async () => {
    const granted = await grantTask(gw(), ['hostile:*']);
    const hostile = integrationOf(granted, 'hostile');
    const own = (await listAll(hostile.url, hostile.token)).tools;
    const aggregate = (await listAll(granted.mcp.url, granted.mcp.token)).tools;
    const ownNames = own.map((t) => t.name);
    expect(ownNames.sort()).toEqual(['deep', 'dup', 'echo', 'long_description', 'sleep']);
    expect(aggregate.map((t) => t.name.replace(/^hostile__/, '')).sort()).toEqual(ownNames);
    // The first of a duplicated name, once.
    expect(own.filter((t) => t.name === 'dup')).toEqual([
      expect.objectContaining({ description: 'first dup' }),
    ]);
    // A 20 KB description is cut to 8 KB; a 100 KB inputSchema leaves its tool out (above).
    const long = own.find((t) => t.name === 'long_description');
    expect(long?.description?.length).toBe(8 * 1024);
    // The API shows the same tools.
    const res = await fetch(`${gw().url}/api/v1/integrations/hostile`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    const api = (await res.json()) as { integration: { tools: string[] } };
    expect([...api.integration.tools].sort()).toEqual(ownNames);
    const dropped = gw().logs.lines.find(
      (l) => l.msg === 'tools left out of the catalog (name rule, duplicates, schema size)',
    );
    expect(dropped).toMatchObject({ integration: 'hostile', dropped: 10 });
  });

  it('cannot be called on either endpoint', async () => {
    const granted = await grantTask(gw(), ['hostile:*']);
    const hostile = integrationOf(granted, 'hostile');
    for (const name of ['nul\u0000name', 'new\nline', '', 'x'.repeat(5000), 'big_schema']) {
      const own = await rpc(hostile.url, hostile.token, toolCall(1, name));
      expect(own.error).toMatchObject({ code: -32602 });
      const aggregate = await rpc(
        granted.mcp.url,
        granted.mcp.token,
        toolCall(2, `hostile__${name}`),
      );
      expect(aggregate.error).toMatchObject({ code: -32602 });
    }
    // Each refused call is recorded, its name and all: a NUL in it (which jsonb refuses)
    // once failed the whole batch of events, other tasks' included.
    const events = await eventually(async () => {
      const found = await toolEvents(gw(), granted.task.id);
      expect(found).toHaveLength(10);
      return found;
    });
    expect(events.map((e) => e.tool)).toContain('nul\ufffdname');
  });

  it("labels arguments nested too deeply as the request's fault, and stays up", async () => {
    const granted = await grantTask(gw(), ['hostile:*']);
    const hostile = integrationOf(granted, 'hostile');
    // 10,000 levels: JSON.parse takes it, JSON.stringify (to the upstream) does not.
    const depth = 10_000;
    const deep = `${'['.repeat(depth)}1${']'.repeat(depth)}`;
    for (const [url, token, name] of [
      [hostile.url, hostile.token, 'echo'],
      [granted.mcp.url, granted.mcp.token, 'hostile__echo'],
    ] as const) {
      // Written by hand: the test's own JSON.stringify cannot serialize it either.
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': LEGACY_VERSION,
        },
        body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"${name}","arguments":{"text":${deep}}}}`,
      });
      const answer = await answerOf(res);
      expect(answer.error).toMatchObject({ code: -32602, data: { code: 'arguments_too_deep' } });
    }
    const called = await rpc(hostile.url, hostile.token, toolCall(2, 'echo', { text: 'fine' }));
    expect(called.result).toEqual({ content: [{ type: 'text', text: 'fine' }] });
    // Every call is in the task's events; the deep ones without their arguments.
    const events = await eventually(async () => {
      const found = await toolEvents(gw(), granted.task.id);
      expect(found).toHaveLength(3);
      return found;
    });
    expect(events.filter((e) => e.ok === false && e.arguments === undefined)).toHaveLength(2);
    expect(events.find((e) => e.ok === true)).toMatchObject({ arguments: { text: 'fine' } });
  });

  it("labels an upstream's own too-deep result as the upstream's", async () => {
    const granted = await grantTask(gw(), ['hostile:*']);
    const hostile = integrationOf(granted, 'hostile');
    const answer = await rpc(hostile.url, hostile.token, toolCall(1, 'deep'));
    expect(answer.error).toMatchObject({
      data: { code: 'upstream_error', integration: 'hostile' },
    });
    const called = await rpc(hostile.url, hostile.token, toolCall(2, 'echo', { text: 'fine' }));
    expect(called.result).toEqual({ content: [{ type: 'text', text: 'fine' }] });
  });
});

describe('an integration of 1,000 tools', () => {
  // 998 + echo and sleep: exactly the bound, 50 a page from the upstream (20 pages).
  const gw = useHostileGateway({
    settings: { HOSTILE_TOOLS: '998', HOSTILE_PAGE: '50', HOSTILE_BEHAVIOURS: 'basic,catalog' },
  });

  it('is ready, lists every tool across pages on both endpoints, and calls the last', async () => {
    expect((await integration(gw(), 'hostile')).state).toBe('ready');
    const granted = await grantTask(gw(), ['hostile:*']);
    const hostile = integrationOf(granted, 'hostile');
    const own = await listAll(hostile.url, hostile.token);
    expect(own.tools).toHaveLength(1000);
    expect(own.pages).toBe(10); // 100 a page
    expect(new Set(own.tools.map((t) => t.name)).size).toBe(1000);
    const aggregate = await listAll(granted.mcp.url, granted.mcp.token);
    expect(aggregate.tools.map((t) => t.name)).toEqual(own.tools.map((t) => `hostile__${t.name}`));
    const called = await rpc(granted.mcp.url, granted.mcp.token, toolCall(1, 'hostile__t0997'));
    expect(called.result).toEqual({ content: [{ type: 'text', text: 't0997' }] });
  });

  it('pages a scoped grant over its own tools only', async () => {
    const granted = await grantTask(gw(), ['hostile:t0997', 'hostile:echo']);
    const aggregate = await listAll(granted.mcp.url, granted.mcp.token);
    expect(aggregate.tools.map((t) => t.name)).toEqual(['hostile__echo', 'hostile__t0997']);
  });
});
