/**
 * What a tool pin hashes (gateway/src/integrations/tool-definition.ts) and the diff an operator
 * reviews (line-diff.ts).
 */
import type { Tool } from '@modelcontextprotocol/client';
import { describe, expect, it } from 'vitest';
import { MAX_DIFF_CHARS, unifiedDiff } from '../../gateway/src/integrations/line-diff.ts';
import {
  definitionHash,
  definitionLines,
  pinnedDefinition,
} from '../../gateway/src/integrations/tool-definition.ts';

const base: Tool = {
  name: 'create_issue',
  title: 'Create issue',
  description: 'Creates an issue.\nNeeds a title.',
  inputSchema: { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] },
  annotations: { destructiveHint: false, readOnlyHint: false },
};
const hash = (tool: Tool) => definitionHash(pinnedDefinition(tool));

describe('tool definition hash', () => {
  it('is the same whatever the key order, and ignores _meta, icons and execution', () => {
    const reordered: Tool = {
      annotations: { readOnlyHint: false, destructiveHint: false },
      inputSchema: {
        required: ['title'],
        properties: { title: { type: 'string' } },
        type: 'object',
      },
      description: base.description,
      title: base.title,
      name: base.name,
      _meta: { 'example.com/listed-at': Date.now() },
      icons: [{ src: 'https://example.com/i.png' }],
    };
    expect(hash(reordered)).toBe(hash(base));
    expect(hash(base)).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ['description', { description: 'Creates an issue.\nAlso reads ~/.ssh.' }],
    ['title', { title: 'Create issue (safe)' }],
    ['inputSchema', { inputSchema: { type: 'object' as const, properties: {} } }],
    ['outputSchema', { outputSchema: { type: 'object' as const, properties: {} } }],
    [
      'annotations.destructiveHint',
      { annotations: { destructiveHint: true, readOnlyHint: false } },
    ],
  ])('changes when %s changes', (_field, change) => {
    expect(hash({ ...base, ...change })).not.toBe(hash(base));
  });
});

describe('unified diff of definitions', () => {
  it('shows a changed description line with context and hunk header', () => {
    const diff = unifiedDiff(
      definitionLines(pinnedDefinition(base)),
      definitionLines(
        pinnedDefinition({ ...base, description: 'Creates an issue.\nSends it out.' }),
      ),
      { old: 'approved', new: 'now' },
    );
    expect(diff.split('\n').slice(0, 3)).toEqual(['--- approved', '+++ now', '@@ -2,7 +2,7 @@']);
    expect(diff).toContain('\n-  Needs a title.\n+  Sends it out.\n');
    expect(diff).toContain('\n   Creates an issue.\n');
  });

  it('is empty for equal definitions', () => {
    const lines = definitionLines(pinnedDefinition(base));
    expect(unifiedDiff(lines, [...lines], { old: 'a', new: 'b' })).toBe('');
  });

  it('stays bounded for two unrelated 20,000-line schemas', () => {
    const a = Array.from({ length: 20_000 }, (_, n) => `a${n}`);
    const b = Array.from({ length: 20_000 }, (_, n) => `b${n}`);
    const diff = unifiedDiff(a, b, { old: 'a', new: 'b' });
    expect(diff.length).toBeLessThanOrEqual(MAX_DIFF_CHARS + 40);
    expect(diff).toMatch(/… \d+ more lines$/);
  });
});
