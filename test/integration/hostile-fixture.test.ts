/**
 * The hostile fixture (test/fixtures/hostile) is an ordinary server until told otherwise: the
 * containment tests and the flood benchmark build on its well-behaved tools and on a second,
 * quiet copy of it beside it.
 */
import { describe, expect, it } from 'vitest';
import { useHostileGateway } from '../helpers/hostile.ts';
import { grantTask, integrationOf, messagesOf, post } from '../helpers/mcp-gateway.ts';

describe('the hostile fixture, behaving', () => {
  const gw = useHostileGateway({ quiet: true, settings: { HOSTILE_PAGE: '1' } });

  it('serves echo and sleep through /mcp/hostile and /mcp/quiet, paging its tools', async () => {
    const granted = await grantTask(gw(), ['hostile:*', 'quiet:*']);
    for (const name of ['hostile', 'quiet']) {
      const { url, token } = integrationOf(granted, name);
      const listed = await post(url, token, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
      const [list] = messagesOf(listed.headers.get('content-type'), await listed.text());
      const tools = (list!.result as { tools: Array<{ name: string }> }).tools.map((t) => t.name);
      expect(tools).toEqual(expect.arrayContaining(['echo', 'sleep']));
      const called = await post(url, token, {
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: `hello ${name}` } },
      });
      const [answer] = messagesOf(called.headers.get('content-type'), await called.text());
      expect(answer!.result).toEqual({ content: [{ type: 'text', text: `hello ${name}` }] });
    }
  });
});
