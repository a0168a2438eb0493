import type { Pool } from '../db/connect.ts';
import { withStatementTimeout } from '../db/statement-timeout.ts';
import { SwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import {
  BYTES_PER_INTEGRATION,
  DOCUMENTS_PER_INTEGRATION,
  type DocumentInput,
  SEARCH_TIMEOUT_MS,
} from './bounds.ts';
import { type Embed, type EmbeddingsConfig, embeddingsClient } from './embeddings.ts';
import {
  createVectorStore,
  type DocumentRow,
  type DocumentScope,
  deleteDocument,
  deleteEmbedding,
  findDocument,
  integrationUsage,
  lockIntegrationDocuments,
  type SearchHit,
  searchFullText,
  searchHybrid,
  upsertDocument,
  upsertEmbedding,
  vectorAvailable,
} from './store.ts';

/**
 * Documents: ingest (an upsert by integration and external key), read, delete and search, for
 * the API (api/documents.ts) and the `search_documents` task tool (mcp/document-tools.ts).
 * With embeddings configured and the `vector` extension present, ingest also stores an
 * embedding and search is hybrid (full text and nearest vectors, fused by rank); otherwise, or
 * when the endpoint fails, search is full text. Every answer says which mode it used.
 */
export type SearchMode = 'hybrid' | 'fulltext';

export interface SearchAnswer {
  mode: SearchMode;
  /** Why the search is full text although embeddings are configured (endpoint down, …). */
  fallback?: string;
  results: SearchHit[];
}

export class DocumentService {
  private embed: Embed | undefined;
  /** Set by start() once document_embeddings exists: vectors are used only then. */
  private vectors = false;
  /** Ingests whose embedding failed since start (stored without one): logged and counted. */
  embeddingFailures = 0;

  constructor(
    private readonly sql: Pool,
    private readonly log: Logger,
    private readonly embeddings: EmbeddingsConfig | undefined,
    private readonly hooks: { onEmbeddingFailure?: () => void; embed?: Embed } = {},
  ) {
    this.embed = embeddings ? (hooks.embed ?? embeddingsClient(embeddings)) : undefined;
  }

  /** Full text, or hybrid with the vector store made: never fails the gateway's start. */
  async start(): Promise<{ vectors: boolean; reason?: string }> {
    if (!this.embeddings) return { vectors: false, reason: 'EMBEDDINGS_URL is not set' };
    try {
      if (!(await vectorAvailable(this.sql))) {
        const reason = 'the database has no `vector` extension (pgvector) available';
        this.log.warn({ reason }, 'documents: embeddings configured, but search stays full text');
        return { vectors: false, reason };
      }
      await this.sql.begin((tx) => createVectorStore(tx));
      this.vectors = true;
      this.log.info({ model: this.embeddings.model }, 'documents: vector search is on');
      return { vectors: true };
    } catch (error) {
      const reason = `cannot create the vector store: ${(error as Error).message}`;
      this.log.warn({ err: error }, 'documents: vector store unavailable, search stays full text');
      return { vectors: false, reason };
    }
  }

  get vectorMode(): boolean {
    return this.vectors;
  }

  async ingest(
    integration: string,
    input: DocumentInput,
  ): Promise<{ document: DocumentRow; created: boolean; embedded: boolean }> {
    const contentBytes = Buffer.byteLength(input.content);
    const row = await this.sql
      .begin(async (tx) => {
        await lockIntegrationDocuments(tx, integration);
        const usage = await integrationUsage(tx, integration, input.externalKey);
        const documents = usage.documents + (usage.replacing === null ? 1 : 0);
        const bytes = usage.bytes - (usage.replacing ?? 0) + contentBytes;
        if (documents > DOCUMENTS_PER_INTEGRATION || bytes > BYTES_PER_INTEGRATION) {
          throw new SwitchboardError(
            'payload_too_large',
            `integration ${integration} holds ${usage.documents} documents (${usage.bytes} bytes): at most ${DOCUMENTS_PER_INTEGRATION} documents and ${BYTES_PER_INTEGRATION} bytes per integration; delete some first`,
            { details: { integration, documents: usage.documents, bytes: usage.bytes } },
          );
        }
        return upsertDocument(tx, {
          integration,
          sessionKey: input.session ?? null,
          externalKey: input.externalKey,
          title: input.title,
          uri: input.uri ?? null,
          content: input.content,
          metadata: input.metadata,
          contentBytes,
        });
      })
      .catch((error: unknown) => {
        // 54000 program_limit_exceeded: "string is too long for tsvector" (over 1 MiB of lexemes).
        if ((error as { code?: string }).code === '54000') {
          throw new SwitchboardError(
            'payload_too_large',
            'content: too many distinct words to index (PostgreSQL caps a tsvector at 1 MiB); split it into several documents',
          );
        }
        throw error;
      });
    const { created, ...document } = row;
    const embedded = await this.storeEmbedding(document);
    return { document, created, embedded };
  }

  /** Never loses the document: a failure is logged, counted, and the old vector removed. */
  private async storeEmbedding(document: DocumentRow): Promise<boolean> {
    if (!this.vectors || !this.embed || !this.embeddings) return false;
    try {
      const vector = await this.embed(`${document.title}\n\n${document.content}`);
      await upsertEmbedding(this.sql, document.id, this.embeddings.model, vector);
      return true;
    } catch (error) {
      this.embeddingFailures++;
      this.hooks.onEmbeddingFailure?.();
      this.log.warn(
        { err: error, documentId: document.id, failures: this.embeddingFailures },
        'documents: embedding failed; the document is stored and found by full text only',
      );
      await deleteEmbedding(this.sql, document.id).catch(() => {});
      return false;
    }
  }

  get(id: string, integration: string | null): Promise<DocumentRow | undefined> {
    return findDocument(this.sql, id, integration);
  }

  delete(id: string, integration: string | null) {
    return deleteDocument(this.sql, id, integration);
  }

  async search(
    scope: DocumentScope,
    query: string,
    limit: number,
    offset: number,
  ): Promise<SearchAnswer> {
    let fallback: string | undefined;
    if (this.vectors && this.embed && this.embeddings) {
      const model = this.embeddings.model;
      const vector = await this.embed(query).catch((error: unknown) => {
        fallback = `the query's embedding failed: ${(error as Error).message}`;
        this.log.warn({ err: error }, 'documents: query embedding failed, searching full text');
        return undefined;
      });
      if (vector) {
        const results = await withStatementTimeout(this.sql, SEARCH_TIMEOUT_MS, (tx) =>
          searchHybrid(tx, scope, query, vector, model, limit, offset),
        ).catch((error: unknown) => {
          throw timeoutError(error);
        });
        return { mode: 'hybrid', results };
      }
    } else if (this.embeddings) {
      fallback = 'the vector store is unavailable (see the gateway log at start)';
    }
    const results = await withStatementTimeout(this.sql, SEARCH_TIMEOUT_MS, (tx) =>
      searchFullText(tx, scope, query, limit, offset),
    ).catch((error: unknown) => {
      throw timeoutError(error);
    });
    return { mode: 'fulltext', ...(fallback && { fallback }), results };
  }
}

/** 57014 query_canceled: our statement_timeout fired. */
function timeoutError(error: unknown): unknown {
  if ((error as { code?: string }).code !== '57014') return error;
  return new SwitchboardError(
    'timeout',
    `the search took longer than ${SEARCH_TIMEOUT_MS} ms and was cancelled: narrow the query (an integration, a session, fewer words)`,
  );
}
