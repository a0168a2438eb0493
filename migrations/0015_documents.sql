-- 0015: documents, ingest and full-text search (issue 18, gateway/src/documents/, api/documents.ts,
-- the built-in `search_documents` task tool). Forward-only, like 0001–0014.
--
-- A document belongs to one integration (the key that ingested it, or the one an operator named)
-- and optionally to a session (its key, e.g. `github:acme/app#7`). Re-ingesting the same
-- (integration, external_key) replaces the row in place (an upsert): a pull request's edited
-- description is one document, not two. Ids are bigint identities, returned as text and never
-- sorted as text.
--
-- Search is PostgreSQL full text: `tsv` is a generated tsvector (title weighted A, content B,
-- the `english` configuration: stemming, stop words), indexed with GIN; queries go through
-- websearch_to_tsquery (never raises on user syntax) and rank with ts_rank_cd.
--
-- No vector column here, on purpose. The `vector` extension (pgvector) is optional: PGlite ships
-- it as a separate bundle that the gateway loads only when embeddings are configured, and a
-- PostgreSQL server may not have it installed (the one in CI does not). A migration must apply
-- everywhere, and a migration that depended on an extension (or a DO block that created a column
-- only sometimes) would leave databases of the same version with different schemas. So the
-- embeddings live in their own table, `document_embeddings`, which the gateway creates at start
-- (documents/vector-store.ts: `create extension if not exists vector` and `create table if not
-- exists`, under an advisory lock) only when EMBEDDINGS_URL is set and the extension is
-- available; otherwise search is full text only and says so. Deleting a document deletes its
-- embedding (a foreign key with on delete cascade, declared by that table).
create table documents (
  id bigint generated always as identity primary key,
  integration text not null,
  session_key text,
  external_key text not null,
  title text not null default '',
  uri text,
  content text not null,
  metadata jsonb not null default '{}'::jsonb,
  content_bytes integer not null,
  tsv tsvector generated always as (
    setweight(to_tsvector('english'::regconfig, title), 'A') ||
    setweight(to_tsvector('english'::regconfig, content), 'B')
  ) stored,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (integration, external_key)
);
create index documents_tsv on documents using gin (tsv);
create index documents_session on documents (integration, session_key) where session_key is not null;
