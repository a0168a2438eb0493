/**
 * Attacks on the agent-facing MCP endpoints (/mcp, /mcp/<integration>) by a hostile agent
 * holding a real, narrow task token: whole gateway, real tokens, real stdio upstreams
 * (test/fixtures/mcp-integrations, policy test/fixtures/mcp-gateway/policy.yaml).
 */
import { describe, expect, it } from 'vitest';
import {
  eventually,
  grantTask,
  integrationOf,
  messagesOf,
  post,
  toolCall,
  toolEvents,
  useMcpGateway,
} from '../helpers/mcp-gateway.ts';

describe('MCP endpoints under attack', () => {
  const gw = useMcpGateway();

  describe('L1: JSON-RPC batches', () => {
    /** crashy allows 5 requests a minute per token (policy); the batch holds 12 calls. */
    const batch = (prefix: string) =>
      Array.from({ length: 12 }, (_, n) => toolCall(n + 1, `${prefix}sleep`, { ms: 1 }));

    const refused = {
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32600,
        message: 'Invalid Request: JSON-RPC batches are not supported; send one message per POST',
      },
    };

    it('a batch is refused (-32600, 400) even in a body the route does not parse (text/plain)', async () => {
      const granted = await grantTask(gw(), ['crashy:*']);
      const crashy = integrationOf(granted, 'crashy');
      for (const [url, token, prefix] of [
        [granted.mcp.url, granted.mcp.token, 'crashy__'],
        [crashy.url, crashy.token, ''],
      ] as const) {
        const res = await post(url, token, batch(prefix), {
          headers: { 'content-type': 'text/plain' },
        });
        expect(res.status).toBe(400);
        expect(await res.json()).toEqual(refused);
      }
    });

    it('a batch of 12 calls neither runs nor uses the rate limit, on /mcp and /mcp/<name>', async () => {
      const granted = await grantTask(gw(), ['crashy:*']);
      const crashy = integrationOf(granted, 'crashy');
      for (const [url, token, prefix] of [
        [granted.mcp.url, granted.mcp.token, 'crashy__'],
        [crashy.url, crashy.token, ''],
      ] as const) {
        for (let n = 0; n < 3; n++) {
          const res = await post(url, token, batch(prefix));
          expect(res.status).toBe(400);
          expect(await res.json()).toEqual(refused);
        }
      }
      // The refused batches used none of the rate limit: 5 single calls pass, the 6th is 429.
      for (let n = 1; n <= 5; n++) {
        const res = await post(crashy.url, crashy.token, toolCall(100 + n, 'sleep', { ms: 1 }));
        expect(res.status).toBe(200);
        const [answer] = messagesOf(res.headers.get('content-type'), await res.text());
        expect(answer).toMatchObject({ id: 100 + n, result: { content: [{ text: 'slept 1' }] } });
      }
      const sixth = await post(crashy.url, crashy.token, toolCall(106, 'sleep', { ms: 1 }));
      expect(sixth.status).toBe(429);
      expect(await sixth.json()).toMatchObject({ error: { code: 'rate_limited' } });
      // And none of the 72 batched calls ran: the task's events are the 5 single calls alone
      // (the batch's, had it run, would have been recorded before them).
      const events = await eventually(async () => {
        const found = await toolEvents(gw(), granted.task.id);
        expect(found).toHaveLength(5);
        return found;
      });
      expect(events.map((e) => [e.integration, e.tool, e.ok])).toEqual(
        Array.from({ length: 5 }, () => ['crashy', 'sleep', true]),
      );
    });
  });
});
