import { z } from 'zod';
import type { EmbeddingsConfig } from '../config.ts';
import { SwitchboardError } from '../errors.ts';

/**
 * The client of an OpenAI-compatible embeddings endpoint (`POST <EMBEDDINGS_URL>` with
 * `{ model, input }`, answered `{ data: [{ embedding: number[] }] }`: OpenAI, Ollama, vLLM,
 * llama.cpp, LiteLLM …). The URL is the operator's own configuration, not a tenant's input, so
 * it is called with plain fetch rather than the outbox's SSRF-guarded client, which refuses the
 * loopback address a local model server usually has.
 */
export type { EmbeddingsConfig };

/** A call on ingest or search waits at most 10 s: a search must still answer (in full text). */
export const EMBEDDINGS_TIMEOUT_MS = 10_000;
/**
 * Only the first 16,000 characters (title and content) are embedded: ~4,000 tokens, inside the
 * 8,192-token input of the common models; a longer text is refused by most endpoints outright.
 */
export const EMBEDDINGS_INPUT_CHARS = 16_000;
/** pgvector stores at most 16,000 dimensions; no model in use has more than 4,096. */
export const EMBEDDINGS_MAX_DIMENSIONS = 4_096;
/** 4,096 numbers as JSON are ~100 KB; 1 MiB leaves room and stops a runaway answer. */
const RESPONSE_MAX_BYTES = 1024 * 1024;

const Answer = z.object({
  data: z
    .array(
      z.object({
        embedding: z
          .array(z.number().refine(Number.isFinite, 'expected finite numbers'))
          .min(1)
          .max(EMBEDDINGS_MAX_DIMENSIONS),
      }),
    )
    .min(1),
});

export type Embed = (text: string) => Promise<number[]>;

const failed = (message: string) => new SwitchboardError('network', `embeddings: ${message}`);

export function embeddingsClient(config: EmbeddingsConfig): Embed {
  return async (text) => {
    const response = await fetch(config.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(config.apiKey && { authorization: `Bearer ${config.apiKey}` }),
      },
      body: JSON.stringify({
        model: config.model,
        input: text.slice(0, EMBEDDINGS_INPUT_CHARS),
        ...(config.dimensions && { dimensions: config.dimensions }),
      }),
      signal: AbortSignal.timeout(EMBEDDINGS_TIMEOUT_MS),
      redirect: 'error',
    }).catch((error: unknown) => {
      throw failed(`cannot reach ${new URL(config.url).origin}: ${(error as Error).message}`);
    });
    const body = await readCapped(response);
    if (!response.ok) throw failed(`HTTP ${response.status}`);
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      throw failed('the answer is not JSON');
    }
    const parsed = Answer.safeParse(json);
    if (!parsed.success) throw failed('the answer is not { data: [{ embedding: number[] }] }');
    const embedding = parsed.data.data[0]!.embedding;
    if (config.dimensions && embedding.length !== config.dimensions) {
      throw failed(`expected ${config.dimensions} dimensions, got ${embedding.length}`);
    }
    return embedding;
  };
}

async function readCapped(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > RESPONSE_MAX_BYTES) {
      await reader.cancel().catch(() => {});
      throw failed(`the answer is larger than ${RESPONSE_MAX_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
