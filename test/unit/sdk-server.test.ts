/**
 * Issue 18: @switchboard/sdk's handler helpers (results builders, the task context reader, and
 * ./server's registerWebhookHandler, registerScheduleHandler, registerDispatcher) on a real
 * McpServer, called by a real Client over the SDK's in-memory transport.
 */
import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport, McpServer } from '@modelcontextprotocol/server';
import {
  HandlerResultError,
  handlerResult,
  readTaskContext,
  TASK_META_KEY,
  trigger,
  webhookInputSchema,
} from '@switchboard/sdk';
import {
  registerDispatcher,
  registerScheduleHandler,
  registerWebhookHandler,
} from '@switchboard/sdk/server';
import { callHandler, webhookInput } from '@switchboard/sdk/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { TASK_META_KEY as GATEWAY_TASK_META_KEY } from '../../gateway/src/mcp/forward.ts';

describe('results builders', () => {
  it('trigger() fills run: true and names a misspelt or missing field', () => {
    expect(trigger({ session: { key: 'acme:1' }, message: 'hi' })).toEqual({
      session: { key: 'acme:1' },
      message: 'hi',
      run: true,
    });
    const bad = () =>
      trigger({ session: { key: 'acme:1' }, mesage: 'hi' } as unknown as Parameters<
        typeof trigger
      >[0]);
    expect(bad).toThrow(HandlerResultError);
    expect(bad).toThrow(/message: missing/);
    expect(bad).toThrow(/mesage/);
  });

  it('handlerResult() with nothing ignores the event; a bad response status is named', () => {
    expect(handlerResult()).toEqual({ triggers: [] });
    expect(() => handlerResult({ response: { status: 42 } })).toThrow(
      /response\.status: .*HTTP status from 100 to 599/,
    );
  });

  it('readTaskContext reads the gateway key and nothing else', () => {
    expect(TASK_META_KEY).toBe(GATEWAY_TASK_META_KEY);
    expect(readTaskContext({ [TASK_META_KEY]: { taskId: 't1', sessionId: 's1' } })).toEqual({
      taskId: 't1',
      sessionId: 's1',
    });
    expect(readTaskContext({ [TASK_META_KEY]: { taskId: 't2' } })).toEqual({ taskId: 't2' });
    expect(readTaskContext(undefined)).toBeUndefined();
    expect(readTaskContext({ taskId: 't3' })).toBeUndefined();
    expect(readTaskContext({ [TASK_META_KEY]: { taskId: 42 } })).toBeUndefined();
  });
});

describe('@switchboard/sdk/server on a real McpServer', () => {
  const client = new Client({ name: 'sdk-server-test', version: '0.0.0' });
  const delivered: unknown[] = [];

  beforeAll(async () => {
    const server = new McpServer({ name: 'sdk-server-test', version: '0.0.0' });
    registerWebhookHandler(server, 'on_webhook', ({ body, headers }) => {
      const ask = JSON.parse(body) as Record<string, unknown>;
      if (ask.throw) throw new Error('the API is down');
      if (ask.invalid) return { triggers: [{ session: { key: 'k' }, mesage: 'x' }] } as never;
      const n = Number(ask.n ?? 0);
      return handlerResult({
        triggers: Array.from({ length: n }, (_, i) =>
          trigger({ session: { key: `k:${i + 1}` }, message: `${headers['x-event']} ${i + 1}` }),
        ),
        ...(ask.response ? { response: { status: 200, body: ask.response } } : {}),
      });
    });
    registerScheduleHandler(server, 'on_schedule', ({ schedule, fireTime }) => ({
      triggers: [{ session: { key: `cron:${schedule}` }, message: `fired ${fireTime}` }],
    }));
    registerDispatcher(
      server,
      'deliver',
      ({ task, dispatch }) => {
        if (dispatch.config.channel === 'down') throw new Error('chat is down');
        delivered.push({ id: task.id, channel: dispatch.config.channel });
        return dispatch.config.channel === 'plain' ? 'ok' : { posted: dispatch.config.channel };
      },
      { config: z.object({ channel: z.string().min(1) }) },
    );
    const [a, b] = InMemoryTransport.createLinkedPair();
    await server.connect(a);
    await client.connect(b);
  });

  afterAll(async () => {
    await client.close();
  });

  it("registers the handlers with the gateway's input schemas", async () => {
    const { tools } = await client.listTools();
    const webhook = tools.find((t) => t.name === 'on_webhook')!;
    expect(Object.keys(webhook.inputSchema.properties ?? {}).sort()).toEqual(
      Object.keys(webhookInputSchema.shape).sort(),
    );
    expect(tools.map((t) => t.name).sort()).toEqual(['deliver', 'on_schedule', 'on_webhook']);
  });

  it('on_webhook: 30 triggers pass through checked, with a summary text', async () => {
    const raw = await client.callTool({
      name: 'on_webhook',
      arguments: webhookInput('events', JSON.stringify({ n: 30 }), { 'X-Event': 'push' }),
    });
    expect(raw.content).toEqual([{ type: 'text', text: '30 triggers' }]);
    const result = await callHandler(
      client,
      'on_webhook',
      webhookInput('events', JSON.stringify({ n: 30, response: { ok: true } }), {
        'x-event': 'push',
      }),
    );
    expect(result.triggers).toHaveLength(30);
    expect(result.triggers[29]).toEqual({
      session: { key: 'k:30' },
      message: 'push 30',
      run: true,
    });
    expect(result.response).toEqual({ status: 200, body: { ok: true } });
  });

  it('on_webhook: a throw and a broken answer become isError results that say why', async () => {
    const thrown = await client.callTool({
      name: 'on_webhook',
      arguments: webhookInput('events', JSON.stringify({ throw: true })),
    });
    expect(thrown).toMatchObject({
      isError: true,
      content: [{ type: 'text', text: 'the API is down' }],
    });
    await expect(
      callHandler(client, 'on_webhook', webhookInput('events', JSON.stringify({ invalid: true }))),
    ).rejects.toThrow(/on_webhook answered an error: invalid handler result: .*triggers\[0\]/);
  });

  it('on_webhook: input that is not what the gateway sends is refused by the schema', async () => {
    const res = await client.callTool({
      name: 'on_webhook',
      arguments: { endpoint: 'events', headers: {}, body: { parsed: true } },
    });
    expect(res.isError).toBe(true);
  });

  it('on_schedule answers checked triggers', async () => {
    const result = await callHandler(client, 'on_schedule', {
      schedule: 'nightly',
      fireTime: '2026-01-05T06:00:00Z',
    });
    expect(result).toEqual({
      triggers: [
        { session: { key: 'cron:nightly' }, message: 'fired 2026-01-05T06:00:00Z', run: true },
      ],
    });
  });

  it('deliver: a checked config, its answer as structuredContent; bad config and throws are errors', async () => {
    const task = { id: 'tsk_12', status: 'complete', result: 'LGTM' };
    const any = (v: unknown) => v;
    expect(
      await callHandler(
        client,
        'deliver',
        { task, dispatch: { type: 'chat', config: { channel: 'c1' } } },
        any,
      ),
    ).toEqual({ posted: 'c1' });
    expect(
      await callHandler(
        client,
        'deliver',
        { task, dispatch: { type: 'chat', config: { channel: 'plain' } } },
        any,
      ),
    ).toEqual({ delivered: true });
    await expect(
      callHandler(client, 'deliver', { task, dispatch: { type: 'chat' } }, any),
    ).rejects.toThrow(/invalid dispatch config: dispatch\.config\.channel/);
    await expect(
      callHandler(
        client,
        'deliver',
        { task, dispatch: { type: 'chat', config: { channel: 'down' } } },
        any,
      ),
    ).rejects.toThrow(/deliver answered an error: chat is down/);
    expect(delivered).toEqual([
      { id: 'tsk_12', channel: 'c1' },
      { id: 'tsk_12', channel: 'plain' },
    ]);
  });
});
