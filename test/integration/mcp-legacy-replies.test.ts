/**
 * What an upstream speaking 2026-07-28 (servers/fixture) answers carries members a 2025-era
 * client has no words for: `ttlMs` and `cacheScope` (SEP-2549, on resources/read), `resultType`,
 * the upstream's own `_meta["io.modelcontextprotocol/serverInfo"]`, and (SEP-2106) a non-object
 * `structuredContent`. None of them reaches a 2025-era client, on the SDK path or the direct
 * tools/call path; a 2026-07-28 client keeps the cache hints, and the serverInfo it sees is the
 * gateway's.
 */
import type { Client as ModernClient } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fastCallSwitch } from '../../gateway/src/mcp/fast-call.ts';
import { useMigratedDatabase } from '../helpers/database.ts';
import { messagesOf } from '../helpers/mcp-gateway.ts';
import {
  agentToken,
  clientTracker,
  connectV1,
  connectV2,
  GRANT_HEADER,
  grant,
  type Harness,
  startHarness,
} from '../helpers/mcp-harness.ts';

/** Every key anywhere in a JSON value, with its path. */
function keysOf(value: unknown, path = ''): string[] {
  if (value === null || typeof value !== 'object') return [];
  if (Array.isArray(value)) return value.flatMap((v, i) => keysOf(v, `${path}[${i}]`));
  return Object.entries(value).flatMap(([key, v]) => [
    `${path}.${key}`,
    ...keysOf(v, `${path}.${key}`),
  ]);
}

/** The keys a 2025-era reply must not hold. */
function modernOnly(value: unknown): string[] {
  return keysOf(value).filter((path) =>
    /\.(ttlMs|cacheScope|resultType)$|\.io\.modelcontextprotocol\//.test(path),
  );
}

describe('2025-era replies carry no 2026-only members', () => {
  const database = useMigratedDatabase();
  let h: Harness;
  const { track, closeAll } = clientTracker();
  beforeAll(async () => {
    h = await startHarness(database);
    h.grants.set('all', grant('all', ['*:*']));
  });
  afterAll(async () => {
    fastCallSwitch.enabled = true;
    await closeAll();
    await h?.close();
  });

  async function legacyPost(method: string, params: Record<string, unknown>, integration?: string) {
    const res = await fetch(h.url(integration), {
      method: 'POST',
      headers: {
        [GRANT_HEADER]: 'all',
        authorization: `Bearer ${agentToken('all')}`,
        accept: 'application/json, text/event-stream',
        'content-type': 'application/json',
        'mcp-protocol-version': '2025-11-25',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method, params }),
    });
    expect(res.status).toBe(200);
    const [answer] = messagesOf(res.headers.get('content-type'), await res.text());
    return answer as { result?: Record<string, unknown>; error?: unknown };
  }

  const requests: Array<[string, Record<string, unknown>]> = [
    ['resources/read', { uri: 'test://static-text' }],
    ['resources/read', { uri: 'test://template/42/data' }],
    ['resources/list', {}],
    ['resources/templates/list', {}],
    ['prompts/list', {}],
    ['prompts/get', { name: 'test_simple_prompt' }],
    [
      'completion/complete',
      {
        ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' },
        argument: { name: 'arg1', value: 'a' },
      },
    ],
    ['tools/list', {}],
    ['tools/call', { name: 'test_simple_text', arguments: {} }],
    ['tools/call', { name: 'list_numbers', arguments: {} }],
  ];

  it('raw 2025 requests, SDK path and direct tools/call path alike', async () => {
    for (const fast of [true, false]) {
      fastCallSwitch.enabled = fast;
      for (const [method, params] of requests) {
        const answer = await legacyPost(method, params, 'fixture');
        expect({ method, error: answer.error }).toEqual({ method, error: undefined });
        expect({ method, fast, found: modernOnly(answer.result) }).toEqual({
          method,
          fast,
          found: [],
        });
      }
      // The structured content of an array output is wrapped as tools/list advertises it.
      const numbers = await legacyPost(
        'tools/call',
        { name: 'list_numbers', arguments: {} },
        'fixture',
      );
      expect(numbers.result).toEqual({
        content: [{ type: 'text', text: '[1,2,3]' }],
        structuredContent: { result: [1, 2, 3] },
      });
      const read = await legacyPost('resources/read', { uri: 'test://static-text' }, 'fixture');
      expect(read.result).toEqual({
        contents: [
          {
            uri: 'test://static-text',
            mimeType: 'text/plain',
            text: 'This is the content of the static text resource.',
          },
        ],
      });
    }
    fastCallSwitch.enabled = true;
  });

  it('a 1.x SDK client on /mcp: read, prompt, completion and calls hold none of them', async () => {
    const v1 = track(await connectV1(h.url(), 'all'));
    const read = await v1.readResource({ uri: 'test://static-text' });
    expect(modernOnly(read)).toEqual([]);
    expect(read.contents[0]).toMatchObject({ uri: 'test://static-text' });
    expect(modernOnly(await v1.getPrompt({ name: 'fixture__test_simple_prompt' }))).toEqual([]);
    const completion = await v1.complete({
      ref: { type: 'ref/prompt', name: 'fixture__test_prompt_with_arguments' },
      argument: { name: 'arg1', value: 'a' },
    });
    expect(completion.completion.values).toEqual(['alpha']);
    expect(modernOnly(completion)).toEqual([]);
    expect(modernOnly(await v1.callTool({ name: 'fixture__test_simple_text' }))).toEqual([]);
    // The 1.x client checks structuredContent against the advertised (wrapped) output schema.
    const numbers = await v1.callTool({ name: 'fixture__list_numbers' });
    expect(numbers.structuredContent).toEqual({ result: [1, 2, 3] });
  });

  it('a 2026-07-28 client keeps the cache hints; the serverInfo it sees is the gateway’s', async () => {
    const modern = track(await connectV2(h.url('fixture'), 'all', 'modern'));
    expect(modern.getProtocolEra()).toBe('modern');
    const read = await modern.readResource({ uri: 'test://static-text' });
    expect(read).toMatchObject({ ttlMs: 0, cacheScope: 'private' });
    const call = await (modern as ModernClient).callTool({ name: 'list_numbers', arguments: {} });
    expect(call.structuredContent).toEqual([1, 2, 3]);
    // Raw, as the gateway sends it (the client reads the key off the wire).
    const res = await fetch(h.url('fixture'), {
      method: 'POST',
      headers: {
        [GRANT_HEADER]: 'all',
        authorization: `Bearer ${agentToken('all')}`,
        accept: 'application/json, text/event-stream',
        'content-type': 'application/json',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'resources/read',
        'mcp-name': 'test://static-text',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'resources/read',
        params: {
          uri: 'test://static-text',
          _meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      }),
    });
    const [answer] = messagesOf(res.headers.get('content-type'), await res.text());
    expect(answer).toMatchObject({
      result: {
        ttlMs: 0,
        cacheScope: 'private',
        _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'switchboard' } },
      },
    });
  });
});
