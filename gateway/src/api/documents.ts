import { type Request, Router } from 'express';
import { z } from 'zod';
import { DocumentId, DocumentInput, SearchInput } from '../documents/bounds.ts';
import type { DocumentService } from '../documents/service.ts';
import type { DocumentRow, SearchHit } from '../documents/store.ts';
import { notFound, SwitchboardError } from '../errors.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import { parseInput } from '../validate.ts';
import { requireScope } from './auth.ts';
import { requireNamespaceAccess } from './namespace-access.ts';

/**
 * /api/v1/documents (issue 18): ingest (an upsert by integration and external key), read,
 * delete and search. An operator key with documents:* reaches every integration's documents.
 * An integration's process key (keys row with `integration` set) reaches only its own, and only
 * while the live policy grants that integration `documents` (a manifest that asks for it is
 * admitted only with it: the registry's ready or starting integration declaring it). Another
 * integration's document answers exactly like a missing one (404), so ids leak nothing.
 */

export interface DocumentsDeps {
  registry: IntegrationRegistry;
  documents: DocumentService;
}

const Timestamp = z.iso.datetime({ offset: true });
export const DocumentView = z.object({
  id: z.string(),
  integration: z.string(),
  session: z.string().nullable(),
  externalKey: z.string(),
  title: z.string(),
  uri: z.string().nullable(),
  content: z.string(),
  metadata: z.record(z.string(), z.unknown()),
  contentBytes: z.number(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export const DocumentAnswer = z.object({ document: DocumentView });
export const IngestAnswer = z.object({
  document: DocumentView.omit({ content: true }),
  created: z.boolean(),
  embedded: z.boolean(),
});
/** A search hit: the document's identity without its content, its rank and where it matched. */
export const SearchHitView = DocumentView.pick({
  id: true,
  integration: true,
  session: true,
  externalKey: true,
  title: true,
  uri: true,
  metadata: true,
  updatedAt: true,
}).extend({ score: z.number(), snippet: z.string(), excerpt: z.string() });
export const SearchAnswer = z.object({
  mode: z.enum(['hybrid', 'fulltext']),
  fallback: z.string().optional(),
  results: z.array(SearchHitView),
  limit: z.number(),
  offset: z.number(),
});

export function documentView(row: DocumentRow): z.output<typeof DocumentView> {
  const { sessionKey, createdAt, updatedAt, ...rest } = row;
  return {
    ...rest,
    session: sessionKey,
    createdAt: createdAt.toISOString(),
    updatedAt: updatedAt.toISOString(),
  };
}

export function hitView(hit: SearchHit): z.output<typeof SearchHitView> {
  const { sessionKey, updatedAt, ...rest } = hit;
  return { ...rest, session: sessionKey, updatedAt: updatedAt.toISOString() };
}

/**
 * The integration a request is bound to: its key's own (refused without the grant, or when it
 * names another: api/namespace-access.ts, the rule key-value storage uses too), or null for an
 * operator key (every integration).
 */
function boundIntegration(req: Request, registry: IntegrationRegistry, named?: string) {
  const own = req.apiKey?.integration ?? null;
  if (own === null) return null;
  requireNamespaceAccess(req.apiKey, registry, named ?? own, 'documents');
  return own;
}

export function documentsRoutes(deps: DocumentsDeps): Router {
  const router = Router();
  const { registry, documents } = deps;

  router.post('/documents', requireScope('documents:write'), async (req, res) => {
    const input = parseInput(DocumentInput, req.body ?? {}, 'document');
    const integration = boundIntegration(req, registry, input.integration) ?? input.integration;
    if (!integration) {
      throw new SwitchboardError(
        'invalid_request',
        'invalid document: integration: expected the integration the document belongs to (an operator key must name it)',
        { details: { issues: [{ path: 'integration', message: 'expected an integration name' }] } },
      );
    }
    const { document, created, embedded } = await documents.ingest(integration, input);
    const { content: _content, ...view } = documentView(document);
    res.status(created ? 201 : 200).json({ document: view, created, embedded });
  });

  // Before /documents/:id: `search` is not an id.
  router.get('/documents/search', requireScope('documents:read'), async (req, res) => {
    const input = parseInput(SearchInput, req.query, 'search');
    const own = boundIntegration(req, registry, input.integration);
    const integration = own ?? input.integration;
    const answer = await documents.search(
      { integrations: integration ? [integration] : null, session: input.session },
      input.q,
      input.limit,
      input.offset,
    );
    res.json({
      ...answer,
      results: answer.results.map(hitView),
      limit: input.limit,
      offset: input.offset,
    });
  });

  router.get('/documents/:id', requireScope('documents:read'), async (req, res) => {
    const id = parseInput(DocumentId, req.params.id, 'document id');
    const row = await documents.get(id, boundIntegration(req, registry));
    if (!row) throw notFound(`no document ${id}`);
    res.json({ document: documentView(row) });
  });

  router.delete('/documents/:id', requireScope('documents:write'), async (req, res) => {
    const id = parseInput(DocumentId, req.params.id, 'document id');
    const row = await documents.delete(id, boundIntegration(req, registry));
    if (!row) throw notFound(`no document ${id}`);
    res.json({ deleted: row });
  });

  return router;
}
