import { createHash } from 'node:crypto';
import type { Tool } from '@modelcontextprotocol/client';

/**
 * The part of a tool's definition that is pinned (tool-pinning.ts): what a model reads or a
 * client acts on. Counted: name, title, description, inputSchema, outputSchema and annotations:
 * a flipped `destructiveHint` or `readOnlyHint` makes clients auto-approve a call they would have
 * asked about, and an outputSchema tells the model how to read results. Not counted: `_meta`
 * (vendor data that may change per listing, e.g. a timestamp, and no model reads it), `icons`
 * (pictures for people) and `execution` (how the call runs, not what it does).
 * The description is the one the catalog keeps (cut to CATALOG_LIMITS.descriptionChars by
 * tool-catalog.ts before it is hashed, published or stored).
 */
export interface PinnedDefinition {
  name: string;
  title?: string;
  description?: string;
  inputSchema: unknown;
  outputSchema?: unknown;
  annotations?: unknown;
}

const FIELDS = [
  'name',
  'title',
  'description',
  'inputSchema',
  'outputSchema',
  'annotations',
] as const;

export function pinnedDefinition(tool: Tool): PinnedDefinition {
  const out: Record<string, unknown> = {};
  for (const field of FIELDS) if (tool[field] !== undefined) out[field] = tool[field];
  return out as unknown as PinnedDefinition;
}

/** JSON with object keys sorted at every depth: equal definitions give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const inner = (value as Record<string, unknown>)[key];
    if (inner !== undefined) sorted[key] = sortKeys(inner);
  }
  return sorted;
}

/** sha256 (hex) of the canonical JSON of the pinned definition. */
export function definitionHash(definition: PinnedDefinition): string {
  return createHash('sha256').update(canonicalJson(definition)).digest('hex');
}

/**
 * The definition as lines an operator can review in a diff: one field after the other, the
 * description line by line (a changed sentence shows as one changed line, not one long JSON
 * string), the schemas as indented JSON with sorted keys.
 */
export function definitionLines(definition: PinnedDefinition): string[] {
  const lines: string[] = [];
  for (const field of FIELDS) {
    const value = (definition as unknown as Record<string, unknown>)[field];
    if (value === undefined) continue;
    if (typeof value === 'string') {
      const parts = value.split(/\r?\n/);
      if (parts.length === 1) lines.push(`${field}: ${value}`);
      else lines.push(`${field}:`, ...parts.map((p) => `  ${p}`));
    } else {
      lines.push(
        `${field}:`,
        ...JSON.stringify(sortKeys(value), null, 2)
          .split('\n')
          .map((l) => `  ${l}`),
      );
    }
  }
  return lines;
}
