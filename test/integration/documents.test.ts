/**
 * Documents (issue 18): ingest, full-text search with ranking and pages, the session filter,
 * upsert and delete through /api/v1/documents; vector (hybrid) search with a fake embeddings
 * endpoint over real HTTP on PGlite's pgvector; the endpoint down; `search_documents` on the
 * built-in server with real task tokens. On PostgreSQL without the `vector` extension the
 * vector block asserts the full-text fallback instead (and says so).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getQueueTask } from '../../gateway/src/tasks/queue.ts';
import { testDatabase, usingPostgres } from '../helpers/database.ts';
import {
  apiClient,
  builtinClient,
  connectBuiltin,
  DOCUMENT_FIXTURES,
  fakeEmbeddings,
  writeDocumentsPolicy,
} from '../helpers/documents.ts';
import {
  ADMIN_KEY,
  startTestGateway,
  type TestGateway,
  useTestGateway,
} from '../helpers/gateway.ts';

type Hit = { id: string; title: string; integration: string; session: string | null };
const ids = (hits: unknown) => (hits as Hit[]).map((h) => h.id);

describe('documents: full-text search', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: DOCUMENT_FIXTURES,
    SWITCHBOARD_POLICY: writeDocumentsPolicy(),
  });
  const api = apiClient(gw);
  const clients: Client[] = [];
  const created: Record<string, string> = {};
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
  });

  beforeAll(async () => {
    for (let i = 1; i <= 30; i++) {
      const res = await api('POST', '/documents', {
        integration: 'alpha',
        externalKey: `pr:acme/app#${i}`,
        title: `Pull request ${i}`,
        uri: `https://github.com/acme/app/pull/${i}`,
        content: `A common change number ${i}. ${i % 3 === 0 ? 'Touches the billing module.' : 'Touches the docs.'}`,
        ...(i <= 4 && { session: 'alpha:acme/app#1' }),
      });
      expect(res.status).toBe(201);
      created[`pr${i}`] = (res.body.document as { id: string }).id;
    }
    const strong = await api('POST', '/documents', {
      integration: 'alpha',
      externalKey: 'note:strong',
      title: 'Retry backoff for flaky webhooks',
      content: 'Retry with exponential backoff. The retry backoff doubles each retry.',
    });
    const weak = await api('POST', '/documents', {
      integration: 'alpha',
      externalKey: 'note:weak',
      title: 'Release notes',
      content: 'Many small things; one of them is a retry of the upload, with a backoff.',
    });
    const other = await api('POST', '/documents', {
      integration: 'beta',
      externalKey: 'note:beta',
      title: 'Beta retry backoff',
      content: 'Beta keeps its own retry backoff notes.',
      session: 'beta:room-9',
    });
    for (const r of [strong, weak, other]) expect(r.status).toBe(201);
    created.strong = (strong.body.document as { id: string }).id;
    created.weak = (weak.body.document as { id: string }).id;
    created.beta = (other.body.document as { id: string }).id;
  });

  it('ranks the better match first, and says the mode', async () => {
    const res = await api('GET', '/documents/search?q=retry%20backoff&integration=alpha');
    expect(res.status).toBe(200);
    expect(res.body.mode).toBe('fulltext');
    expect(ids(res.body.results)).toEqual([created.strong, created.weak]);
    const [first] = res.body.results as Array<{ snippet: string; score: number }>;
    expect(first?.snippet).toMatch(/<b>[Rr]etry<\/b>/);
    // An operator key without `integration` searches every integration.
    const all = await api('GET', '/documents/search?q=retry%20backoff');
    expect(ids(all.body.results)).toContain(created.beta);
  });

  it('pages through 30 matches past id 9, 10 at a time, without repeats', async () => {
    expect(BigInt(created.pr30!)).toBeGreaterThan(9n);
    const seen: string[] = [];
    for (const offset of [0, 10, 20, 30]) {
      const res = await api(
        'GET',
        `/documents/search?q=common%20change&integration=alpha&limit=10&offset=${offset}`,
      );
      expect(res.status).toBe(200);
      expect((res.body.results as unknown[]).length).toBe(offset === 30 ? 0 : 10);
      seen.push(...ids(res.body.results));
    }
    expect(new Set(seen).size).toBe(30);
    // Equal ranks come in id order, compared as numbers.
    const ranked = (await api('GET', '/documents/search?q=common&integration=alpha&limit=50')).body
      .results as Array<{ id: string; score: number }>;
    for (let i = 1; i < ranked.length; i++) {
      const [a, b] = [ranked[i - 1]!, ranked[i]!];
      if (a.score === b.score) expect(BigInt(a.id) < BigInt(b.id)).toBe(true);
    }
    for (const bad of ['limit=51', 'limit=0', 'offset=1001', 'offset=-1']) {
      const res = await api('GET', `/documents/search?q=common&${bad}`);
      expect(res.status, bad).toBe(400);
      expect(JSON.stringify(res.body.error)).toMatch(/limit|offset/);
    }
  });

  it('filters by session', async () => {
    const res = await api(
      'GET',
      `/documents/search?q=common&session=${encodeURIComponent('alpha:acme/app#1')}`,
    );
    expect(ids(res.body.results)).toEqual([created.pr1, created.pr2, created.pr3, created.pr4]);
  });

  it('re-ingesting the same external key replaces the document', async () => {
    const res = await api('POST', '/documents', {
      integration: 'alpha',
      externalKey: 'pr:acme/app#7',
      title: 'Pull request 7 (edited)',
      content: 'Now about kubernetes autoscaling.',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ created: false, document: { id: created.pr7 } });
    const got = await api('GET', `/documents/${created.pr7}`);
    expect(got.body.document).toMatchObject({
      title: 'Pull request 7 (edited)',
      content: 'Now about kubernetes autoscaling.',
      session: null,
    });
    expect(ids((await api('GET', '/documents/search?q=autoscaling')).body.results)).toEqual([
      created.pr7,
    ]);
    const old = await api('GET', '/documents/search?q=%22number%207%22');
    expect(ids(old.body.results)).not.toContain(created.pr7);
  });

  it('deletes a document', async () => {
    const res = await api('DELETE', `/documents/${created.weak}`);
    expect(res.status).toBe(200);
    expect((await api('GET', `/documents/${created.weak}`)).status).toBe(404);
    expect((await api('DELETE', `/documents/${created.weak}`)).status).toBe(404);
    const search = await api('GET', '/documents/search?q=retry%20backoff&integration=alpha');
    expect(ids(search.body.results)).toEqual([created.strong]);
  });

  it('search_documents: a token over alpha:* finds alpha documents, not beta ones', async () => {
    const client = await builtinClient(gw, ['alpha:*']);
    clients.push(client);
    const result = await client.callTool({
      name: 'search_documents',
      arguments: { query: 'retry backoff' },
    });
    expect(result.isError).not.toBe(true);
    const found = result.structuredContent as { mode: string; results: Hit[] };
    expect(found.mode).toBe('fulltext');
    expect(ids(found.results)).toEqual([created.strong]);
    const paged = await client.callTool({
      name: 'search_documents',
      arguments: { query: 'common', limit: 20, offset: 20 },
    });
    // 30 documents match, one (pr7) no longer does: 29 - 20.
    expect((paged.structuredContent as { results: Hit[] }).results).toHaveLength(9);
  });

  it("search_documents: a running task also reads its own session's documents", async () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sb-docs-')), 'agent.json');
    const task = await api('POST', '/tasks', {
      profile: 'agent',
      session: 'beta:room-9',
      prompt: JSON.stringify({ mode: 'sleep', out }),
    });
    expect(task.status).toBe(201);
    const id = (task.body.task as { id: string }).id;
    await expect
      .poll(async () => (await getQueueTask(gw().sql, id)).status, { timeout: 30_000 })
      .toBe('running');
    const config = await api('POST', `/tasks/${id}/config`, { format: 'json' });
    const env = config.body.env as Record<string, string>;
    const client = await connectBuiltin(gw, env.SWITCHBOARD_TOKEN_SWITCHBOARD!);
    clients.push(client);
    const result = await client.callTool({
      name: 'search_documents',
      arguments: { query: 'retry backoff' },
    });
    // alpha:* from the profile, and beta's document filed under this task's session.
    expect(ids((result.structuredContent as { results: Hit[] }).results).sort()).toEqual(
      [created.strong!, created.beta!].sort(),
    );
    await api('POST', `/tasks/${id}/cancel`, {});
  });
});

describe('documents: vector search with an embeddings endpoint', () => {
  let gw: TestGateway | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  let fake: Awaited<ReturnType<typeof fakeEmbeddings>> | undefined;
  let vectorInstalled = false;
  const get = () => gw!;
  const api = apiClient(get, ADMIN_KEY);

  beforeAll(async () => {
    fake = await fakeEmbeddings(64);
    const db = await testDatabase();
    cleanup = db.cleanup;
    gw = await startTestGateway({
      ...db.env,
      SWITCHBOARD_ADMIN_KEY: ADMIN_KEY,
      INTEGRATION_DIRS: DOCUMENT_FIXTURES,
      SWITCHBOARD_POLICY: writeDocumentsPolicy(),
      EMBEDDINGS_URL: fake.url,
      EMBEDDINGS_MODEL: 'bag-of-words',
      EMBEDDINGS_DIMENSIONS: '64',
    });
    const [row] = await gw.sql`select 1 from pg_available_extensions where name = 'vector'`;
    vectorInstalled = row !== undefined;
  });
  afterAll(async () => {
    await gw?.stop();
    await cleanup?.();
    await fake?.close();
  });

  const ingest = (externalKey: string, title: string, content: string) =>
    api('POST', '/documents', { integration: 'alpha', externalKey, title, content });

  it('stores embeddings and searches hybrid (PGlite ships pgvector)', async () => {
    if (usingPostgres && !vectorInstalled) {
      // Not a skip: this server has no pgvector, so the gateway must fall back, and say so.
      console.info('PostgreSQL without the vector extension: asserting the full-text fallback');
    } else {
      expect(vectorInstalled).toBe(true);
    }
    const a = await ingest('a', 'Schema changes', 'How a database migration is applied safely.');
    const b = await ingest('b', 'Cooking', 'A recipe for bread with flour and water.');
    expect(a.status).toBe(201);
    expect(b.body.embedded).toBe(vectorInstalled);
    // "rollback" is in no document: full text (all words) finds nothing, the vectors find a.
    const res = await api('GET', '/documents/search?q=database%20migration%20rollback');
    expect(res.status).toBe(200);
    if (vectorInstalled) {
      expect(res.body.mode).toBe('hybrid');
      expect(ids(res.body.results)[0]).toBe((a.body.document as { id: string }).id);
    } else {
      expect(res.body).toMatchObject({ mode: 'fulltext', results: [] });
      expect(String(res.body.fallback)).toMatch(/vector store is unavailable/);
    }
  });

  it('with the endpoint down, documents are still stored and found by full text', async () => {
    fake!.state.down = true;
    try {
      const res = await ingest('down', 'Outage notes', 'The pager woke everyone at night.');
      expect(res.status).toBe(201);
      expect(res.body.embedded).toBe(false);
      const id = (res.body.document as { id: string }).id;
      expect((await api('GET', `/documents/${id}`)).status).toBe(200);
      const search = await api('GET', '/documents/search?q=pager');
      expect(search.body.mode).toBe('fulltext');
      expect(String(search.body.fallback)).toMatch(/embedding failed|unavailable/);
      expect(ids(search.body.results)).toEqual([id]);
      if (vectorInstalled) {
        expect(get().logs.text()).toMatch(/embedding failed; the document is stored/);
        const counted = await get().metrics.registry.getSingleMetricAsString(
          'switchboard_document_embedding_failures_total',
        );
        expect(counted).toMatch(/switchboard_document_embedding_failures_total 1$/m);
      }
    } finally {
      fake!.state.down = false;
    }
  });
});
