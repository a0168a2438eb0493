/**
 * The pure parts of the catalog bounds (issue 13 items 3 and 11): the one tool-name rule,
 * reading stops at a bound without asking for more pages, pages cut across lists by count and
 * bytes, and nesting depth measured without recursion. The end-to-end attacks are in
 * test/security/catalogs.test.ts.
 */
import type { Tool } from '@modelcontextprotocol/client';
import { describe, expect, it } from 'vitest';
import { toolNameProblem } from '../../gateway/src/integrations/names.ts';
import {
  CATALOG_LIMITS,
  CatalogTooLarge,
  readToolCatalog,
} from '../../gateway/src/integrations/tool-catalog.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { decodeCursor, paginateLists } from '../../gateway/src/mcp/cursors.ts';
import { nestsDeeperThan } from '../../gateway/src/mcp/json-depth.ts';

const log = createLogger('silent');
const tool = (name: string): Tool => ({ name, inputSchema: { type: 'object' } });

describe('toolNameProblem', () => {
  it('takes spec names that still fit 128 once prefixed, and nothing else', () => {
    expect(toolNameProblem('github', 'get_pr.v2-x')).toBeUndefined();
    expect(toolNameProblem('github', 'a'.repeat(128 - 'github__'.length))).toBeUndefined();
    for (const name of [
      '',
      'nul\u0000',
      'esc\u001b',
      'new\nline',
      'rtl\u202e',
      'with space',
      'x'.repeat(5000),
      'a'.repeat(129 - 'github__'.length),
    ]) {
      expect(toolNameProblem('github', name)).toBeDefined();
    }
  });
});

describe('readToolCatalog', () => {
  it('stops asking for pages at the page bound', async () => {
    let asked = 0;
    const read = async (cursor: string | undefined) => {
      asked += 1;
      const n = Number(cursor ?? 0);
      return { tools: [tool(`t${n}`)], nextCursor: String(n + 1) }; // never ends
    };
    const error = await readToolCatalog('endless', read, log).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CatalogTooLarge);
    expect(error).toMatchObject({ code: 'catalog_too_large', limit: 'pages' });
    expect(asked).toBe(CATALOG_LIMITS.pages);
  });

  it('refuses at the first tool past the count, reading no further page', async () => {
    let asked = 0;
    const read = async () => {
      asked += 1;
      return { tools: Array.from({ length: 2000 }, (_, i) => tool(`t${i}`)), nextCursor: 'more' };
    };
    await expect(readToolCatalog('many', read, log)).rejects.toMatchObject({
      limit: 'tools',
      value: CATALOG_LIMITS.tools + 1,
    });
    expect(asked).toBe(1);
  });

  it('keeps the first of a duplicated name, cuts descriptions and leaves out huge schemas', async () => {
    const read = async () => ({
      tools: [
        { ...tool('dup'), description: 'first' },
        { ...tool('dup'), description: 'second' },
        { ...tool('long'), description: `${'d'.repeat(20_000)}` },
        {
          name: 'huge',
          inputSchema: {
            type: 'object' as const,
            properties: { x: { description: 'z'.repeat(70_000) } },
          },
        },
        tool('bad name'),
      ],
    });
    const catalog = await readToolCatalog('mixed', read, log);
    expect(catalog.tools.map((t) => t.name)).toEqual(['dup', 'long']);
    expect(catalog.byName.get('dup')?.description).toBe('first');
    expect(catalog.byName.get('long')?.description).toHaveLength(CATALOG_LIMITS.descriptionChars);
    expect(catalog.bytes).toBe(catalog.sizes.reduce((a, b) => a + b, 0));
  });
});

describe('paginateLists', () => {
  const lists = [
    { items: ['a', 'b', 'c'], sizes: [10, 10, 10] },
    { items: [], sizes: [] },
    { items: ['d', 'e'], sizes: [10, 500] },
  ];

  it('pages across lists as one, by count', () => {
    const first = paginateLists('tools', lists, undefined, 2, 1_000);
    expect(first.page).toEqual(['a', 'b']);
    const second = paginateLists('tools', lists, first.nextCursor, 2, 1_000);
    expect(second.page).toEqual(['c', 'd']);
    const third = paginateLists('tools', lists, second.nextCursor, 2, 1_000);
    expect(third).toEqual({ page: ['e'] });
  });

  it('ends a page once it holds the byte bound, always with at least one item', () => {
    const first = paginateLists('tools', lists, undefined, 100, 25);
    expect(first.page).toEqual(['a', 'b', 'c']);
    expect(decodeCursor('tools', first.nextCursor)).toBe(3);
    const rest = paginateLists('tools', lists, first.nextCursor, 100, 5);
    expect(rest.page).toEqual(['d']);
    expect(paginateLists('tools', lists, rest.nextCursor, 100, 5)).toEqual({ page: ['e'] });
  });
});

describe('nestsDeeperThan', () => {
  it('measures depth without recursion, at any depth', () => {
    const depth = 100_000;
    const deep = JSON.parse(`${'['.repeat(depth)}1${']'.repeat(depth)}`) as unknown;
    expect(nestsDeeperThan(deep, 64)).toBe(true);
    expect(nestsDeeperThan({ a: [{ b: 1 }] }, 3)).toBe(false);
    expect(nestsDeeperThan({ a: [{ b: {} }] }, 3)).toBe(true);
    expect(nestsDeeperThan('text', 0)).toBe(false);
  });
});
