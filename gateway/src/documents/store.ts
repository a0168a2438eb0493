import type { Sql } from '../db/connect.ts';

/**
 * The SQL of documents (migration 0015) and their embeddings (vector-store.ts creates that table
 * when it can). Ids are bigint identities handed out as text; every order names the table's own
 * column (`d.id`), never the text it is selected as.
 */

export interface DocumentRow {
  id: string;
  integration: string;
  sessionKey: string | null;
  externalKey: string;
  title: string;
  uri: string | null;
  content: string;
  metadata: Record<string, unknown>;
  contentBytes: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewDocument {
  integration: string;
  sessionKey: string | null;
  externalKey: string;
  title: string;
  uri: string | null;
  content: string;
  metadata: Record<string, unknown>;
  contentBytes: number;
}

/**
 * Which documents a reader may see: the integrations (null: every one), optionally narrowed to
 * one session key (`session`), and widened by the documents of one more session (`alsoSession`:
 * a task's own session, whatever integration ingested them).
 */
export interface DocumentScope {
  integrations: readonly string[] | null;
  session?: string | undefined;
  alsoSession?: string | undefined;
}

export interface SearchHit {
  id: string;
  integration: string;
  sessionKey: string | null;
  externalKey: string;
  title: string;
  uri: string | null;
  metadata: Record<string, unknown>;
  score: number;
  snippet: string;
  excerpt: string;
  updatedAt: Date;
}

/** ts_headline re-parses the text it marks: only this many leading characters of each hit. */
const HEADLINE_SOURCE_CHARS = 20_000;
/** The start of each hit's content handed back with it (an agent reads it without a second call). */
export const EXCERPT_CHARS = 2_000;
/** Reciprocal rank fusion's constant (the usual 60): how much a first place outweighs a tenth. */
const RRF_K = 60;

const COLUMNS = (sql: Sql) => sql`
  d.id::text as id, d.integration, d.session_key as "sessionKey", d.external_key as "externalKey",
  d.title, d.uri, d.content, d.metadata, d.content_bytes as "contentBytes",
  d.created_at as "createdAt", d.updated_at as "updatedAt"`;

/** Takes the integration's documents lock until the transaction ends (ingest counts, then writes). */
export async function lockIntegrationDocuments(sql: Sql, integration: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${`documents:${integration}`}))`;
}

export async function integrationUsage(
  sql: Sql,
  integration: string,
  externalKey: string,
): Promise<{ documents: number; bytes: number; replacing: number | null }> {
  const [row] = await sql<{ documents: number; bytes: string; replacing: number | null }[]>`
    select count(*)::int as documents, coalesce(sum(d.content_bytes), 0)::text as bytes,
           max(d.content_bytes) filter (where d.external_key = ${externalKey}) as replacing
      from documents d where d.integration = ${integration}`;
  return {
    documents: row?.documents ?? 0,
    bytes: Number(row?.bytes ?? 0),
    replacing: row?.replacing ?? null,
  };
}

export async function upsertDocument(
  sql: Sql,
  doc: NewDocument,
): Promise<DocumentRow & { created: boolean }> {
  const [row] = await sql<(DocumentRow & { created: boolean })[]>`
    insert into documents as d
      (integration, session_key, external_key, title, uri, content, metadata, content_bytes)
    values (${doc.integration}, ${doc.sessionKey}, ${doc.externalKey}, ${doc.title}, ${doc.uri},
            ${doc.content}, ${sql.json(doc.metadata as never)}, ${doc.contentBytes})
    on conflict (integration, external_key) do update
       set session_key = excluded.session_key, title = excluded.title, uri = excluded.uri,
           content = excluded.content, metadata = excluded.metadata,
           content_bytes = excluded.content_bytes, updated_at = now()
    returning ${COLUMNS(sql)}, (xmax = 0) as created`;
  return row!;
}

/** One document, only within `integration` when given (another's id reads as not found). */
export async function findDocument(
  sql: Sql,
  id: string,
  integration: string | null,
): Promise<DocumentRow | undefined> {
  const [row] = await sql<DocumentRow[]>`
    select ${COLUMNS(sql)} from documents d
     where d.id = ${id}::bigint and (${integration}::text is null or d.integration = ${integration})`;
  return row;
}

export async function deleteDocument(
  sql: Sql,
  id: string,
  integration: string | null,
): Promise<{ id: string; integration: string } | undefined> {
  const [row] = await sql<{ id: string; integration: string }[]>`
    delete from documents d
     where d.id = ${id}::bigint and (${integration}::text is null or d.integration = ${integration})
    returning d.id::text as id, d.integration`;
  return row;
}

const scopeFilter = (sql: Sql, scope: DocumentScope) => sql`
  (${scope.integrations === null}::boolean
     or d.integration = any(${(scope.integrations ?? []) as string[]}::text[])
     or d.session_key = ${scope.alsoSession ?? null}::text)
  and (${scope.session ?? null}::text is null or d.session_key = ${scope.session ?? null}::text)`;

/**
 * A hit as both searches answer it: `h` is the ranked page (doc_id, score), `q` the query. The
 * headline is computed only for the page, from the first HEADLINE_SOURCE_CHARS of each hit.
 */
const hitColumns = (sql: Sql) => sql`
  d.id::text as id, d.integration, d.session_key as "sessionKey",
  d.external_key as "externalKey", d.title, d.uri, d.metadata,
  d.updated_at as "updatedAt", h.score::float8 as score,
  ts_headline('english', left(d.content, ${HEADLINE_SOURCE_CHARS}), q.query,
              'MaxWords=30, MinWords=10, MaxFragments=2') as snippet,
  left(d.content, ${EXCERPT_CHARS}) as excerpt`;

/** Full text: websearch_to_tsquery (never a syntax error), ts_rank_cd, then the page's headlines. */
export async function searchFullText(
  sql: Sql,
  scope: DocumentScope,
  query: string,
  limit: number,
  offset: number,
): Promise<SearchHit[]> {
  return sql<SearchHit[]>`
    with q as (select websearch_to_tsquery('english', ${query}) as query),
    hits as (
      select d.id as doc_id, ts_rank_cd(d.tsv, q.query) as score
        from documents d, q
       where d.tsv @@ q.query and ${scopeFilter(sql, scope)}
       order by score desc, d.id
       limit ${limit} offset ${offset})
    select ${hitColumns(sql)}
      from hits h join documents d on d.id = h.doc_id, q
     order by h.score desc, d.id`;
}

/**
 * Hybrid: the best `pool` full-text matches and the `pool` nearest embeddings (cosine distance,
 * exact: no ANN index, see vector-store.ts), fused by reciprocal rank. Only called once
 * vector-store.ts has made `document_embeddings` (the `<=>` operator exists only then).
 */
export async function searchHybrid(
  sql: Sql,
  scope: DocumentScope,
  query: string,
  embedding: readonly number[],
  model: string,
  limit: number,
  offset: number,
): Promise<SearchHit[]> {
  const pool = limit + offset;
  const vector = `[${embedding.join(',')}]`;
  return sql<SearchHit[]>`
    with q as (select websearch_to_tsquery('english', ${query}) as query),
    fts as (
      select d.id as doc_id, row_number() over (order by ts_rank_cd(d.tsv, q.query) desc, d.id) as r
        from documents d, q
       where d.tsv @@ q.query and ${scopeFilter(sql, scope)}
       order by r limit ${pool}),
    vec as (
      select d.id as doc_id, row_number() over (order by e.embedding <=> ${vector}::vector, d.id) as r
        from document_embeddings e join documents d on d.id = e.document_id
       where e.model = ${model} and e.dims = ${embedding.length} and ${scopeFilter(sql, scope)}
       order by r limit ${pool}),
    fused as (
      select coalesce(f.doc_id, v.doc_id) as doc_id,
             coalesce(1.0 / (${RRF_K} + f.r), 0) + coalesce(1.0 / (${RRF_K} + v.r), 0) as score
        from fts f full join vec v on v.doc_id = f.doc_id
       order by score desc, doc_id
       limit ${limit} offset ${offset})
    select ${hitColumns(sql)}
      from fused h join documents d on d.id = h.doc_id, q
     order by h.score desc, d.id`;
}

export async function upsertEmbedding(
  sql: Sql,
  documentId: string,
  model: string,
  embedding: readonly number[],
): Promise<void> {
  await sql`
    insert into document_embeddings (document_id, model, dims, embedding)
    values (${documentId}::bigint, ${model}, ${embedding.length}, ${`[${embedding.join(',')}]`}::vector)
    on conflict (document_id) do update
       set model = excluded.model, dims = excluded.dims, embedding = excluded.embedding`;
}

/** A re-ingest whose embedding failed must not keep the old text's vector. */
export async function deleteEmbedding(sql: Sql, documentId: string): Promise<void> {
  await sql`delete from document_embeddings where document_id = ${documentId}::bigint`;
}

export async function vectorAvailable(sql: Sql): Promise<boolean> {
  const rows = await sql`select 1 from pg_available_extensions where name = 'vector'`;
  return rows.length > 0;
}

/**
 * The embeddings table: `vector` without a fixed dimension so a change of model needs no
 * migration (rows carry model and dims, and search compares only its own model's). Under an
 * advisory lock: replicas starting at once would race on `create … if not exists`.
 */
export async function createVectorStore(sql: Sql): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext('documents:vector-store'))`;
  await sql`create extension if not exists vector`;
  await sql`
    create table if not exists document_embeddings (
      document_id bigint primary key references documents (id) on delete cascade,
      model text not null,
      dims integer not null,
      embedding vector not null
    )`;
}
