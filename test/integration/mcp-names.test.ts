/**
 * The pure parts of the MCP proxy core: aggregate names, our cursors, the `_meta` an agent may
 * pass upstream. (In the integration project only because test/unit belongs to other work.)
 */
import { describe, expect, it } from 'vitest';
import { isSpecName, namespaced, splitNamespaced } from '../../gateway/src/integrations/names.ts';
import { decodeCursor, encodeCursor, paginate } from '../../gateway/src/mcp/cursors.ts';
import { agentMeta, TASK_META_KEY } from '../../gateway/src/mcp/forward.ts';

describe('aggregate names (<integration>__<tool>)', () => {
  it('splits on the first double underscore, so tool names may contain one', () => {
    expect(splitNamespaced('github__get_pr')).toEqual({ integration: 'github', name: 'get_pr' });
    expect(splitNamespaced('my-api__list__all')).toEqual({
      integration: 'my-api',
      name: 'list__all',
    });
    for (const bad of ['nodelimiter', '__tool', 'github__', '']) {
      expect(splitNamespaced(bad)).toBeUndefined();
    }
    expect(splitNamespaced(namespaced('a-b', 'c.d'))).toEqual({ integration: 'a-b', name: 'c.d' });
  });

  it('keeps published names within the spec rule: 1–128 of [A-Za-z0-9_.-] (server/tools "Tool names")', () => {
    expect(isSpecName(namespaced('github', 'get_pr'))).toBe(true);
    expect(isSpecName(namespaced('github', 'x'.repeat(120)))).toBe(true); // 128 exactly
    expect(isSpecName(namespaced('github', 'x'.repeat(121)))).toBe(false);
    expect(isSpecName('github__has space')).toBe(false);
  });
});

describe('our cursors (spec utilities/pagination)', () => {
  it('pages a list and ends without a cursor', () => {
    const items = [1, 2, 3, 4, 5, 6, 7];
    const first = paginate('tools', items, undefined, 3);
    expect(first.page).toEqual([1, 2, 3]);
    const second = paginate('tools', items, first.nextCursor, 3);
    expect(second.page).toEqual([4, 5, 6]);
    const last = paginate('tools', items, second.nextCursor, 3);
    expect(last).toEqual({ page: [7] });
  });

  it('rejects a forged cursor, or one from another list, with -32602', () => {
    for (const cursor of ['garbage', encodeCursor('prompts', 3), btoa('{"k":"tools","o":-1}')]) {
      expect(() => decodeCursor('tools', cursor)).toThrow(
        expect.objectContaining({ code: -32602, message: 'Invalid cursor' }),
      );
    }
  });
});

describe('the _meta an agent may pass upstream', () => {
  it('drops its progress token, our task context and the protocol envelope; keeps the rest', () => {
    expect(
      agentMeta({
        progressToken: 7,
        [TASK_META_KEY]: { taskId: 'forged' },
        'io.switchboard/other': 1,
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'example.com/trace': 'abc',
      }),
    ).toEqual({ 'example.com/trace': 'abc' });
    expect(agentMeta(undefined)).toEqual({});
  });
});
