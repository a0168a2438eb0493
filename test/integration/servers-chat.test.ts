import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { fillPlaceholders } from '@switchboard/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import * as z from 'zod';
import { startChatProcess } from '../helpers/chat-process.ts';

const SERVER_DIR = fileURLToPath(new URL('../../servers/chat/', import.meta.url));

const Manifest = z.object({
  server: z.object({ transport: z.literal('http'), url: z.string() }),
  processes: z.array(
    z.object({
      name: z.string(),
      command: z.string(),
      args: z.array(z.string()).default([]),
      requires: z.array(z.string()).default([]),
    }),
  ),
  tools: z.object({ hidden: z.array(z.string()) }),
});
const manifest = Manifest.parse(
  parse(readFileSync(path.join(SERVER_DIR, 'switchboard.yaml'), 'utf8')),
);

/** A raw POST with a chosen Host/Origin (fetch cannot set Host), answering the status code. */
function rawPost(url: URL, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }));
  });
}

const TextBlock = z.object({ type: z.literal('text'), text: z.string() });
const firstText = (content: unknown) =>
  TextBlock.parse(z.array(z.unknown()).parse(content)[0]).text;
const Messages = z.object({
  messages: z.array(
    z.object({
      ts: z.string(),
      user: z.string(),
      text: z.string(),
      threadTs: z.string().optional(),
      reactions: z.array(z.string()).optional(),
    }),
  ),
});

function slackDelivery(payload: unknown) {
  return {
    endpoint: 'events',
    headers: {
      'content-type': 'application/json',
      'x-slack-request-timestamp': String(Math.floor(Date.now() / 1000)),
      'x-slack-signature': 'v0=verified-by-the-gateway',
    },
    body: JSON.stringify(payload),
    deliveryId: 'Ev0123456789',
  };
}

const messageEvent = (event: Record<string, unknown>) => ({
  token: 'legacy-verification-token',
  team_id: 'T0001',
  api_app_id: 'A0001',
  type: 'event_callback',
  event_id: 'Ev0123456789',
  event_time: 1_700_000_000,
  event: { type: 'message', channel: 'general', channel_type: 'channel', ...event },
});

describe('servers/chat over Streamable HTTP', () => {
  let child: ChildProcess;
  let url: URL;
  let client: Client;

  beforeAll(async () => {
    const started = performance.now();
    ({ child, url } = await startChatProcess({
      CHAT_PORT: '0',
      CHAT_SIGNING_SECRET: 'slack-secret',
    }));
    client = new Client({ name: 'servers-chat-test', version: '0.0.0' });
    await client.connect(new StreamableHTTPClientTransport(url));
    await client.listTools();
    console.log(
      `chat cold spawn → first tools/list: ${(performance.now() - started).toFixed(0)} ms`,
    );
  });

  afterAll(async () => {
    await client?.close();
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('serves the manifest url path on loopback and lists its tools', async () => {
    // The manifest's URL follows CHAT_PORT: filled with the port chat bound, it is chat's URL.
    expect(fillPlaceholders(manifest.server.url, { CHAT_PORT: url.port })).toBe(url.href);
    expect(url.hostname).toBe('127.0.0.1');
    const tools = (await client.listTools()).tools.map((t) => t.name).sort();
    expect(tools).toEqual([
      'ask_approval',
      'deliver',
      'list_messages',
      'on_task_event',
      'on_webhook',
      'post_message',
    ]);
    expect(manifest.tools.hidden.sort()).toEqual([
      'ask_approval',
      'deliver',
      'on_task_event',
      'on_webhook',
    ]);
    expect(manifest.processes[0]?.requires).toEqual(['CHAT_PORT']);
  });

  it('on a port already taken, says why in one stderr line and exits 1', async () => {
    // This chat holds url.port: a second one there must fail, and say EADDRINUSE last (the
    // gateway shows a process's last stderr line as its exit cause).
    await expect(
      startChatProcess({ CHAT_PORT: url.port, CHAT_SIGNING_SECRET: 'slack-secret' }),
    ).rejects.toThrow(
      new RegExp(
        `^chat exited with 1: (.*\\n)*chat: cannot listen on 127\\.0\\.0\\.1:${url.port}: listen EADDRINUSE: address already in use 127\\.0\\.0\\.1:${url.port}\\n$`,
      ),
    );
  });

  it('post_message then list_messages returns it', async () => {
    const posted = await client.callTool({
      name: 'post_message',
      arguments: { channel: 'random', text: 'hello there' },
    });
    expect(posted.structuredContent).toMatchObject({
      ok: true,
      channel: 'random',
      ts: expect.any(String),
    });
    await client.callTool({
      name: 'post_message',
      arguments: { channel: 'random', text: 'second' },
    });
    const listed = await client.callTool({
      name: 'list_messages',
      arguments: { channel: 'random' },
    });
    const { messages } = Messages.parse(listed.structuredContent);
    expect(messages.map((m) => m.text)).toEqual(['hello there', 'second']);
    const limited = await client.callTool({
      name: 'list_messages',
      arguments: { channel: 'random', limit: 1 },
    });
    expect(Messages.parse(limited.structuredContent).messages.map((m) => m.text)).toEqual([
      'second',
    ]);
  });

  it('rejects bad arguments as isError results', async () => {
    const bad = await client.callTool({
      name: 'post_message',
      arguments: { channel: 'Bad Name!', text: 'x' },
    });
    expect(bad.isError).toBe(true);
  });

  it('on_webhook answers url_verification through response', async () => {
    const result = await client.callTool({
      name: 'on_webhook',
      arguments: slackDelivery({
        token: 't',
        challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P',
        type: 'url_verification',
      }),
    });
    expect(result.structuredContent).toEqual({
      triggers: [],
      response: {
        status: 200,
        body: { challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P' },
      },
    });
  });

  it('on_webhook turns a user message into a thread trigger and records it', async () => {
    const result = await client.callTool({
      name: 'on_webhook',
      arguments: slackDelivery(
        messageEvent({ user: 'U123', text: 'Is the build green?', ts: '1700000000.000100' }),
      ),
    });
    expect(result.structuredContent).toEqual({
      triggers: [
        {
          session: {
            key: 'chat:general',
            dispatch: {
              type: 'chat',
              config: { channel: 'general', threadTs: '1700000000.000100' },
            },
          },
          message: '<@U123> in #general: Is the build green?',
          run: true,
          execution: {
            preamble: expect.any(String),
            tools: ['chat:list_messages', 'chat:post_message'],
          },
        },
      ],
      response: { status: 200, body: { ok: true } },
    });
    const listed = await client.callTool({
      name: 'list_messages',
      arguments: { channel: 'general' },
    });
    expect(Messages.parse(listed.structuredContent).messages).toEqual([
      expect.objectContaining({
        ts: '1700000000.000100',
        user: 'U123',
        text: 'Is the build green?',
      }),
    ]);
  });

  it('on_webhook ignores bot messages and subtypes', async () => {
    for (const event of [
      { bot_id: 'B1', text: 'I am a bot', ts: '1700000000.000200' },
      { subtype: 'message_changed', user: 'U123', ts: '1700000000.000300' },
    ]) {
      const result = await client.callTool({
        name: 'on_webhook',
        arguments: slackDelivery(messageEvent(event)),
      });
      expect(result.structuredContent).toEqual({
        triggers: [],
        response: { status: 200, body: { ok: true } },
      });
    }
  });

  it('deliver posts the result into the thread', async () => {
    const result = await client.callTool({
      name: 'deliver',
      arguments: {
        task: { id: 't_9', status: 'complete', result: 'Yes, main is green.' },
        session: { id: 's_9', key: 'chat:general:1700000000.000100' },
        dispatch: { type: 'chat', config: { channel: 'general', threadTs: '1700000000.000100' } },
      },
    });
    expect(result.structuredContent).toMatchObject({ delivered: true, channel: 'general' });
    const listed = await client.callTool({
      name: 'list_messages',
      arguments: { channel: 'general', limit: 1 },
    });
    expect(Messages.parse(listed.structuredContent).messages).toEqual([
      expect.objectContaining({
        user: 'switchboard',
        text: 'Yes, main is green.',
        threadTs: '1700000000.000100',
      }),
    ]);
  });

  it('on_task_event reacts on the thread: 👀 when its task starts, ✅ or ❌ when it ends', async () => {
    const thread = { type: 'chat', config: { channel: 'general', threadTs: '1700000000.000100' } };
    const hook = (type: string, seq: string, taskId = 't_10', dispatch: unknown = thread) =>
      client.callTool({
        name: 'on_task_event',
        arguments: {
          event: { type, seq, taskId, createdAt: '2026-01-05T06:00:00Z', data: {} },
          session: { id: 's_10', key: 'chat:general' },
          integration: 'chat',
          ...(dispatch ? { dispatch } : {}),
        },
      });
    const reactions = async () => {
      const listed = await client.callTool({
        name: 'list_messages',
        arguments: { channel: 'general', limit: 200 },
      });
      return Messages.parse(listed.structuredContent).messages.find(
        (m) => m.ts === '1700000000.000100',
      )?.reactions;
    };
    expect((await hook('task:started', '41')).structuredContent).toEqual({
      reacted: true,
      reaction: 'eyes',
    });
    expect(await reactions()).toEqual(['eyes']);
    // Delivered again (at least once): nothing changes.
    await hook('task:started', '41');
    expect(await reactions()).toEqual(['eyes']);
    await hook('task:done', '45');
    expect(await reactions()).toEqual(['white_check_mark']);
    // A retried start arriving after the end does not put 👀 back.
    expect((await hook('task:started', '41')).structuredContent).toMatchObject({
      reacted: false,
      reason: 'an older event',
    });
    expect(await reactions()).toEqual(['white_check_mark']);
    // A second task in the same thread that fails.
    await hook('task:started', '50', 't_11');
    expect(await reactions()).toEqual(['white_check_mark', 'eyes']);
    await hook('task:failed', '52', 't_11');
    expect(await reactions()).toEqual(['white_check_mark', 'x']);
    // A task without a chat thread (no dispatch) is left alone.
    expect((await hook('task:started', '60', 't_12', null)).structuredContent).toMatchObject({
      reacted: false,
    });
  });

  it('also serves a client that negotiates the 2026-07-28 era', async () => {
    const modern = new Client(
      { name: 'servers-chat-modern', version: '0.0.0' },
      { versionNegotiation: { mode: 'auto' } },
    );
    await modern.connect(new StreamableHTTPClientTransport(url));
    try {
      expect(modern.getNegotiatedProtocolVersion()).toBe('2026-07-28');
      const listed = await modern.callTool({
        name: 'list_messages',
        arguments: { channel: 'random' },
      });
      expect(firstText(listed.content)).toContain('hello there');
    } finally {
      await modern.close();
    }
  });

  it('rejects non-loopback Host and Origin headers (DNS rebinding)', async () => {
    expect(await rawPost(url, { host: `evil.example:${url.port}` })).toBe(403);
    expect(await rawPost(url, { origin: 'http://evil.example' })).toBe(403);
    expect(await rawPost(new URL('/other', url), {})).toBe(404);
  });
});
