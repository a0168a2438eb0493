import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAllTools } from '../../gateway/src/integrations/tools.ts';
import { HttpUpstream } from '../../gateway/src/integrations/upstream/http.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { startChatProcess } from '../helpers/chat-process.ts';

// The chat example is a real Streamable HTTP MCP server in its own process.
describe('HTTP upstream', () => {
  let chat: Awaited<ReturnType<typeof startChatProcess>>;
  beforeAll(async () => {
    chat = await startChatProcess({ CHAT_PORT: '0', CHAT_SIGNING_SECRET: 'test-signing-secret' });
  });
  afterAll(() => {
    chat?.child.kill('SIGTERM');
  });

  const upstream = (url: string) =>
    new HttpUpstream({ integration: 'chat', url, requestTimeoutMs: 5_000 }, createLogger('silent'));

  it('lists and calls tools over Streamable HTTP', async () => {
    const up = upstream(new URL('/mcp', chat.url).toString());
    const tools = await up.request((c, timeout) => listAllTools(c, timeout));
    expect(tools.map((t) => t.name)).toEqual(
      expect.arrayContaining(['post_message', 'list_messages']),
    );
    await up.request((c, timeout) =>
      c.callTool(
        { name: 'post_message', arguments: { channel: 'ops', text: 'via upstream' } },
        { timeout },
      ),
    );
    const listed = await up.request((c) =>
      c.callTool({ name: 'list_messages', arguments: { channel: 'ops' } }),
    );
    expect(JSON.stringify(listed.content)).toContain('via upstream');
    expect(up.status()).toMatchObject({ state: 'ready' });
    await up.stop();
    expect(up.status().state).toBe('stopped');
  });

  it('names the integration and the root cause when the server cannot be reached', async () => {
    // A port that was free a moment ago: nothing listens there.
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((r) => server.close(r));
    const up = upstream(`http://127.0.0.1:${port}/mcp`);
    await expect(up.request((c) => c.listTools())).rejects.toMatchObject({
      code: 'upstream_unavailable',
      message: `integration chat: cannot reach http://127.0.0.1:${port}/mcp: connect ECONNREFUSED 127.0.0.1:${port}`,
    });
    expect(up.status()).toMatchObject({ state: 'failed' });
  });
});
