import { type CallToolResult, Server, type Tool } from '@modelcontextprotocol/server';

/** The protocol era a request is answered in: 2025-era (`legacy`) or 2026-07-28 (`modern`). */
export type Era = 'legacy' | 'modern';

/**
 * Result members that exist only from 2026-07-28 on (spec 2026-07-28 changelog): `ttlMs` and
 * `cacheScope` of the cacheable results (tools/list, prompts/list, resources/list,
 * resources/templates/list, resources/read, SEP-2549) and `resultType` (SEP-2322; a complete
 * one, since input_required results are answered apart, mcp/input-required.ts). An upstream
 * that speaks 2026-07-28 sends them; a 2025-era client must not get them.
 */
const MODERN_ONLY_KEYS = ['ttlMs', 'cacheScope'] as const;

/**
 * `_meta` keys of the protocol's own namespace describe one hop (the upstream's
 * `io.modelcontextprotocol/serverInfo`: which server answered). The agent's hop is the gateway:
 * its own SDK stamps its serverInfo on 2026-07-28 answers, and 2025 has no such key.
 */
const PROTOCOL_META_PREFIX = 'io.modelcontextprotocol/';

/**
 * An upstream's result as the agent's era may receive it: never the upstream's per-hop `_meta`
 * keys; for a 2025-era client, none of the 2026-only members. Lists the gateway builds itself
 * carry none of them; what passes through from an upstream (resources/read, prompts/get,
 * completion/complete, tools/call) goes through here.
 */
export function forEra<T extends object>(result: T, era: Era): T {
  const record = result as Record<string, unknown>;
  const meta = record._meta as Record<string, unknown> | undefined;
  const metaKeys = meta && typeof meta === 'object' ? Object.keys(meta) : [];
  const hopKeys = metaKeys.filter((key) => key.startsWith(PROTOCOL_META_PREFIX));
  const modernKeys =
    era === 'legacy'
      ? [
          ...MODERN_ONLY_KEYS.filter((key) => key in record),
          ...(record.resultType === 'complete' ? ['resultType'] : []),
        ]
      : [];
  if (hopKeys.length === 0 && modernKeys.length === 0) return result;
  const out: Record<string, unknown> = { ...record };
  for (const key of modernKeys) delete out[key];
  if (hopKeys.length > 0) {
    const kept = Object.fromEntries(
      Object.entries(meta ?? {}).filter(([key]) => !key.startsWith(PROTOCOL_META_PREFIX)),
    );
    if (Object.keys(kept).length > 0) out._meta = kept;
    else delete out._meta;
  }
  return out as T;
}

/**
 * A server instance used only for its 2025-era codec (never connected: no negotiated version,
 * so the SDK resolves the 2025 codec), the one owner of the 2025 projection of tools/call.
 */
const legacyCodec = new Server({ name: 'switchboard-codec', version: '0' }, { capabilities: {} });

/**
 * A tools/call result for the agent's era. 2026-07-28 lets `structuredContent` be any JSON value
 * and `outputSchema` any root (SEP-2106); 2025 requires objects, and the gateway's tools/list
 * already wraps a non-object output schema as `{result: …}` for 2025 clients (the SDK's codec),
 * so the call's structuredContent is wrapped to match, by the same codec.
 */
export function callResultForEra(
  result: CallToolResult,
  tool: Pick<Tool, 'outputSchema'> | undefined,
  era: Era,
): CallToolResult {
  const plain = forEra(result, era);
  if (era === 'modern' || plain.structuredContent === undefined) return plain;
  return legacyCodec.projectCallToolResult(plain, tool?.outputSchema) as CallToolResult;
}
