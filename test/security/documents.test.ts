/**
 * Documents (issue 18) under attack: an integration's key reaching another's documents (read,
 * search, delete, ingest in its name) without learning that they exist; a key whose integration
 * the policy does not grant `documents`; a task token whose scope does not cover an integration
 * whole; oversized content and queries; hostile query strings (tsquery syntax, SQL-ish); one
 * integration filling the database past its bound.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../gateway/src/keys/format.ts';
import { insertApiKey } from '../../gateway/src/keys/store.ts';
import {
  apiClient,
  builtinClient,
  DOCUMENT_FIXTURES,
  integrationKey,
  writeDocumentsPolicy,
} from '../helpers/documents.ts';
import { useTestGateway } from '../helpers/gateway.ts';

describe('documents: who reaches what', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: DOCUMENT_FIXTURES,
    SWITCHBOARD_POLICY: writeDocumentsPolicy(),
  });
  const admin = apiClient(gw);
  const clients: Client[] = [];
  let alpha: ReturnType<typeof apiClient>;
  let betaDoc = '';
  let alphaDoc = '';

  beforeAll(async () => {
    alpha = apiClient(gw, await integrationKey(gw(), 'alpha'));
    const beta = apiClient(gw, await integrationKey(gw(), 'beta'));
    // An integration's key needs no `integration` field: the document is its own.
    const own = await alpha('POST', '/documents', {
      externalKey: 'a1',
      title: 'Alpha secret plan',
      content: 'The launch code word is marmalade.',
    });
    expect(own.status).toBe(201);
    expect(own.body.document).toMatchObject({ integration: 'alpha' });
    alphaDoc = (own.body.document as { id: string }).id;
    const theirs = await beta('POST', '/documents', {
      externalKey: 'b1',
      title: 'Beta secret plan',
      content: 'The launch code word is marmalade too.',
    });
    expect(theirs.status).toBe(201);
    betaDoc = (theirs.body.document as { id: string }).id;
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
  });

  it("alpha's key cannot read, delete or search beta's documents, nor learn they exist", async () => {
    const missing = await alpha('GET', '/documents/999999');
    const foreign = await alpha('GET', `/documents/${betaDoc}`);
    expect(foreign.status).toBe(404);
    // The same answer as an id that does not exist (but for the id it names).
    const shape = (error: unknown, id: string) => {
      const { requestId: _, ...rest } = error as Record<string, unknown>;
      return JSON.stringify(rest).replace(id, 'N');
    };
    expect(shape(foreign.body.error, betaDoc)).toBe(shape(missing.body.error, '999999'));
    expect((await alpha('DELETE', `/documents/${betaDoc}`)).status).toBe(404);
    expect((await admin('GET', `/documents/${betaDoc}`)).status).toBe(200);
    const search = await alpha('GET', '/documents/search?q=marmalade');
    expect((search.body.results as Array<{ id: string }>).map((r) => r.id)).toEqual([alphaDoc]);
    const named = await alpha('GET', '/documents/search?q=marmalade&integration=beta');
    expect(named.status).toBe(403);
    const sessionOfBeta = await alpha('GET', '/documents/search?q=marmalade&session=beta:x');
    expect(sessionOfBeta.body.results).toEqual([]);
    const inTheirName = await alpha('POST', '/documents', {
      integration: 'beta',
      externalKey: 'b1',
      content: 'overwritten',
    });
    expect(inTheirName.status).toBe(403);
    expect((await admin('GET', `/documents/${betaDoc}`)).body.document).toMatchObject({
      content: 'The launch code word is marmalade too.',
    });
  });

  it('a key whose integration the policy does not grant `documents` is refused', async () => {
    const plain = apiClient(gw, await integrationKey(gw(), 'plain'));
    for (const [method, route, body] of [
      ['GET', '/documents/search?q=marmalade'],
      ['GET', `/documents/${alphaDoc}`],
      ['DELETE', `/documents/${alphaDoc}`],
      ['POST', '/documents', { externalKey: 'p', content: 'x' }],
    ] as const) {
      const res = await plain(method, route, body);
      expect(res.status, `${method} ${route}`).toBe(403);
      expect(JSON.stringify(res.body.error)).toMatch(
        /is not granted documents by the policy|does not declare documents/,
      );
    }
    // An integration the registry does not hold at all (a key left from a removed one).
    const gone = apiClient(gw, await integrationKey(gw(), 'removed'));
    expect((await gone('GET', '/documents/search?q=marmalade')).status).toBe(403);
    // A granted integration's key without the documents scopes (sessions:write only).
    const generated = generateApiKey('alpha');
    await insertApiKey(gw().sql, {
      prefix: generated.prefix,
      hash: generated.hash,
      name: 'integration:alpha',
      scopes: ['sessions:write'],
      source: 'integration',
      integration: 'alpha',
      createdBy: 'test',
    });
    const unscoped = apiClient(gw, generated.key);
    expect((await unscoped('GET', '/documents/search?q=marmalade')).status).toBe(403);
    expect((await unscoped('POST', '/documents', { externalKey: 'z', content: 'z' })).status).toBe(
      403,
    );
  });

  it('a task token without the whole of an integration gets none of its documents', async () => {
    for (const scope of [['beta:*'], ['alpha:only_one_tool'], ['plain:*']]) {
      const client = await builtinClient(gw, scope);
      clients.push(client);
      const result = await client.callTool({
        name: 'search_documents',
        arguments: { query: 'marmalade' },
      });
      const ids = (result.structuredContent as { results: Array<{ id: string }> }).results.map(
        (r) => r.id,
      );
      expect(ids, scope.join()).not.toContain(alphaDoc);
      const named = await client.callTool({
        name: 'search_documents',
        arguments: { query: 'marmalade', integration: 'alpha' },
      });
      expect(named.isError, scope.join()).toBe(true);
    }
    const wide = await builtinClient(gw, ['*:*']);
    clients.push(wide);
    const all = await wide.callTool({
      name: 'search_documents',
      arguments: { query: 'marmalade' },
    });
    expect((all.structuredContent as { results: unknown[] }).results).toHaveLength(2);
    const tooMany = await wide.callTool({
      name: 'search_documents',
      arguments: { query: 'marmalade', limit: 21 },
    });
    expect(tooMany.isError).toBe(true);
  });

  it('oversized content and queries are refused, naming the field', async () => {
    const big = await admin('POST', '/documents', {
      integration: 'alpha',
      externalKey: 'big',
      content: 'x'.repeat(512 * 1024 + 1),
    });
    expect(big.status).toBe(400);
    expect(JSON.stringify(big.body.error)).toMatch(/content.*524288 bytes/);
    const huge = await admin('POST', '/documents', {
      integration: 'alpha',
      externalKey: 'huge',
      content: 'x'.repeat(2 * 1024 * 1024),
    });
    expect(huge.status).toBe(413);
    const query = await admin('GET', `/documents/search?q=${'a'.repeat(1001)}`);
    expect(query.status).toBe(400);
    expect(JSON.stringify(query.body.error)).toMatch(/q: expected at most 1000 characters/);
    const nul = await admin('POST', '/documents', {
      integration: 'alpha',
      externalKey: 'nul',
      content: 'a\u0000b',
    });
    expect(nul.status).toBe(400);
  });

  it('hostile query strings are only words', async () => {
    const hostile = [
      "'; drop table documents; --",
      'marmalade & | ! ( ) <-> :* \\',
      '"unclosed phrase',
      '!!!!',
      'a:* & b:*A',
      "marmalade') or 1=1 --",
      '$1 %s $' + '{x} \u202e \ud83d\ude00',
      '-marmalade or or or',
    ];
    for (const q of hostile) {
      const res = await admin('GET', `/documents/search?q=${encodeURIComponent(q)}`);
      expect(res.status, q).toBe(200);
    }
    const still = await admin('GET', '/documents/search?q=marmalade');
    expect((still.body.results as unknown[]).length).toBe(2);
    const bad = await admin('GET', '/documents/x%27%3Bdrop');
    expect(bad.status).toBe(400);
  });

  it('one integration cannot grow past 50,000 documents', async () => {
    // Filled directly (an API loop of 50,000 would take minutes); the bound is checked on ingest.
    await gw().sql`
      insert into documents (integration, external_key, content, content_bytes)
      select 'beta', 'fill:' || g, 'f', 1 from generate_series(1, 49999) g`;
    const full = apiClient(gw, await integrationKey(gw(), 'beta'));
    const refused = await full('POST', '/documents', { externalKey: 'one-more', content: 'x' });
    expect(refused.status).toBe(413);
    expect(JSON.stringify(refused.body.error)).toMatch(/at most 50000 documents/);
    // Replacing one it has is still allowed.
    const replaced = await full('POST', '/documents', { externalKey: 'b1', content: 'edited' });
    expect(replaced.status).toBe(200);
    // alpha is not affected.
    expect((await alpha('POST', '/documents', { externalKey: 'a2', content: 'y' })).status).toBe(
      201,
    );
  });
});
