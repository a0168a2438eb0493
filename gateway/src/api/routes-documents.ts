import { DocumentInput, SearchInput } from '../documents/bounds.ts';
import { DocumentAnswer, IngestAnswer, SearchAnswer } from './documents.ts';
import { Json, ok, type RouteSpec } from './route-spec.ts';

/** Documents (issue 18, gateway/src/documents/); routes.ts spreads them into API_ROUTES. */
const notFound = {
  status: 404,
  description: "No such document (or another integration's, for an integration's key)",
};
const refused = {
  status: 403,
  description:
    "An integration's key without the policy's `documents` grant, or naming another integration",
};

export const DOCUMENT_ROUTES: RouteSpec[] = [
  {
    method: 'post',
    path: '/documents',
    scope: 'documents:write',
    summary:
      'Ingest a document (≤ 512 KiB of content; ≤ 50,000 documents and 256 MiB per integration): an upsert by (integration, externalKey); embedded when embeddings are configured (a failed embedding still stores the document)',
    body: DocumentInput,
    responses: [
      { status: 201, description: 'Created', schema: IngestAnswer },
      ok(IngestAnswer, 'Replaced (same integration and externalKey)'),
      refused,
      { status: 413, description: "Content too large, or the integration's documents are full" },
    ],
  },
  {
    method: 'get',
    path: '/documents/search',
    scope: 'documents:read',
    summary:
      'Search (websearch syntax, ≤ 1,000 characters; ranked by ts_rank_cd, or hybrid with vectors when available; ≤ 50 a page, offset ≤ 1,000; cancelled after 5 s); `mode` says which search ran',
    query: SearchInput,
    responses: [
      ok(SearchAnswer),
      refused,
      { status: 504, description: 'The search took longer than 5 s' },
    ],
  },
  {
    method: 'get',
    path: '/documents/:id',
    scope: 'documents:read',
    summary: 'One document with its content',
    responses: [ok(DocumentAnswer), refused, notFound],
  },
  {
    method: 'delete',
    path: '/documents/:id',
    scope: 'documents:write',
    summary: 'Delete a document (and its embedding)',
    responses: [ok(Json), refused, notFound],
  },
];
