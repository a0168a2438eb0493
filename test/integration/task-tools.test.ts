/**
 * The built-in `switchboard` MCP server's ask_user and task_context (ARCHITECTURE §4 "Built-in
 * task tools"), on a real running task: the worker runs a sleeping agent, the test takes fresh
 * tokens for that task from GET /api/v1/tasks/:id/config and calls the tools as the agent would.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, describe, expect, it } from 'vitest';
import { getQueueTask } from '../../gateway/src/tasks/queue.ts';
import { writeAgentPolicy } from '../fixtures/agents/policy.ts';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';

const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/integrations');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-task-tools-'));

const textOf = (result: { content?: unknown }): string =>
  ((result.content as Array<{ type: string; text?: string }>)[0]?.text ?? '') as string;

describe('the built-in task tools on a running task', () => {
  const gw = useTestGateway({ INTEGRATION_DIRS: FIXTURES, SWITCHBOARD_POLICY: writeAgentPolicy() });
  const clients: Client[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const api = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${gw().url}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  /** A running task of profile `agent` in session `key`, and the built-in server as its agent. */
  async function runningTask(key: string, prompt: string) {
    const created = await api('POST', '/tasks', {
      profile: 'agent',
      session: key,
      prompt,
      // No preamble: the worker puts it before the prompt, which this test agent parses as JSON.
      execution: { model: 'test-model', skills: ['github/review'] },
    });
    expect(created.status).toBe(201);
    const task = created.body.task as { id: string; sessionId: string };
    await expect
      .poll(async () => (await getQueueTask(gw().sql, task.id)).status, {
        timeout: 30_000,
        interval: 50,
      })
      .toBe('running');
    const config = await api('POST', `/tasks/${task.id}/config`, { format: 'json' });
    expect(config.status).toBe(200);
    const env = config.body.env as Record<string, string>;
    const client = new Client({ name: 'task-tools-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${gw().url}/mcp/switchboard`), {
        requestInit: { headers: { authorization: `Bearer ${env.SWITCHBOARD_TOKEN_SWITCHBOARD}` } },
      }),
    );
    clients.push(client);
    return { task, client };
  }

  it('task_context gives the prompt, execution settings and the session history', async () => {
    const prompt = JSON.stringify({ mode: 'sleep', out: path.join(tmp, 'context.json') });
    const { task, client } = await runningTask('chat:context', prompt);
    const posted = await api('POST', `/sessions/${task.sessionId}/messages`, {
      content: 'earlier words',
    });
    expect(posted.status).toBe(201);
    const result = await client.callTool({ name: 'task_context', arguments: {} });
    expect(result.structuredContent).toMatchObject({
      taskId: task.id,
      sessionId: task.sessionId,
      profile: 'agent',
      prompt,
      execution: { model: 'test-model', skills: ['github/review'] },
    });
    const history = (result.structuredContent as { history: Array<{ content: string }> }).history;
    expect(history.map((m) => m.content)).toContain('earlier words');
    await api('POST', `/tasks/${task.id}/cancel`, {});
  });

  it('task_context history is the last 20 messages, oldest first, past message id 9', async () => {
    const prompt = JSON.stringify({ mode: 'sleep', out: path.join(tmp, 'history.json') });
    const { task, client } = await runningTask('chat:history', prompt);
    const ids: string[] = [];
    for (let i = 1; i <= 30; i++) {
      const posted = await api('POST', `/sessions/${task.sessionId}/messages`, {
        content: `line ${i}`,
      });
      expect(posted.status).toBe(201);
      ids.push((posted.body.message as { id: string }).id);
    }
    // Issue 12: the ids were sorted as text, so the "newest 20" were 9, 8, …, 29, 28, … .
    expect(BigInt(ids.at(-1)!)).toBeGreaterThan(20n);
    const result = await client.callTool({ name: 'task_context', arguments: {} });
    const history = (
      result.structuredContent as { history: Array<{ id: string; content: string }> }
    ).history;
    expect(history.map((m) => m.content)).toEqual(
      Array.from({ length: 20 }, (_, i) => `line ${i + 11}`),
    );
    expect(history.map((m) => m.id)).toEqual(ids.slice(-20));
    await api('POST', `/tasks/${task.id}/cancel`, {});
  });

  it('ask_user emits task:ask_user, waits for a message in the session and returns it', async () => {
    const prompt = JSON.stringify({ mode: 'sleep', out: path.join(tmp, 'ask.json') });
    const { task, client } = await runningTask('chat:ask', prompt);
    const asking = client.callTool({
      name: 'ask_user',
      arguments: { question: 'Which branch?', options: ['main', 'dev'], timeoutSeconds: 60 },
    });
    await expect
      .poll(
        async () =>
          (
            await gw().sql<{ n: number }[]>`
              select count(*)::int as n from task_events
               where task_id = ${task.id} and type = 'task:ask_user'`
          )[0]?.n,
        { timeout: 15_000, interval: 50 },
      )
      .toBe(1);
    const [event] = await gw().sql<{ data: Record<string, unknown> }[]>`
      select data from task_events where task_id = ${task.id} and type = 'task:ask_user'`;
    expect(event?.data).toMatchObject({ question: 'Which branch?', options: ['main', 'dev'] });
    await api('POST', `/sessions/${task.sessionId}/messages`, {
      content: 'dev, please',
      // ask_user wakes on the task's events; without one it finds the message at its 5 s poll.
      notify: true,
    });
    const answer = await asking;
    expect(answer.isError).not.toBe(true);
    expect(textOf(answer)).toContain('dev, please');

    // Without a reply the wait ends at its timeout and says so.
    const silent = await client.callTool({
      name: 'ask_user',
      arguments: { question: 'Anyone?', timeoutSeconds: 1 },
    });
    expect(textOf(silent)).toMatch(/no reply/);
    await api('POST', `/tasks/${task.id}/cancel`, {});
  });
});
