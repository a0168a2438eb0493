/**
 * Issue 13 items 1 and 10: what one request or one agent can do to the whole gateway.
 * - An error nothing catches (a throw in a timer or listener, a rejection nobody awaits) is
 *   logged and counted, and the gateway keeps serving; a throw in a route is a 500 JSON answer.
 *   The faults come from the test-only routes (http/test-faults.ts) of a real `switchboard
 *   start` process, since an uncaught exception ends a process only when it is its own.
 * - One task may have at most `tokens.maxInFlight` MCP requests in flight (all its tokens
 *   together); one more is 429 with Retry-After and a JSON-RPC error, and another task is served.
 * - One ask_user at a time per task, woken by the task's events instead of a 500 ms poll.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, describe, expect, it } from 'vitest';
import { getQueueTask } from '../../gateway/src/tasks/queue.ts';
import { writeAgentPolicy } from '../fixtures/agents/policy.ts';
import {
  ADMIN_KEY,
  EMPTY_DIR,
  REPO_ROOT,
  runSwitchboard,
  useTestGateway,
} from '../helpers/gateway.ts';
import { startGatewayProcess } from '../helpers/gateway-process.ts';
import { useHostileGateway } from '../helpers/hostile.ts';
import {
  eventually,
  grantTask,
  integrationOf,
  messagesOf,
  post,
  toolCall,
} from '../helpers/mcp-gateway.ts';

const FAULT_ENV = { NODE_ENV: 'test', SWITCHBOARD_TEST_FAULTS: '1' };

describe('an error nothing catches, inside a request', () => {
  it('is logged at error level and counted, and the gateway keeps serving', async () => {
    const gw = await startGatewayProcess(FAULT_ENV);
    try {
      const faultLine = (kind: string) =>
        gw.logs.find(
          (l) =>
            (l.err as { message?: string } | undefined)?.message ===
            `test fault (${kind}): thrown on purpose`,
        );
      // Thrown after the answer, outside any request's error path: before issue 13 the first
      // of them ended the process.
      for (const [kind, msg] of [
        ['timer', 'uncaught exception'],
        ['rejection', 'unhandled rejection'],
        ['listener', 'uncaught exception'],
      ] as const) {
        const res = await fetch(`${gw.url}/__test/faults/${kind}`, { method: 'POST' });
        expect(res.status, kind).toBe(202);
        const line = await eventually(() => {
          const found = faultLine(kind);
          expect(found, `the ${kind} fault is logged`).toBeDefined();
          return found!;
        }, 30_000);
        expect(line).toMatchObject({ level: 'error', msg, serving: true });
        expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
      }
      // A throw in the route itself: the error handler's 500, with nothing of the error in it.
      for (const kind of ['handler', 'async-handler']) {
        const res = await fetch(`${gw.url}/__test/faults/${kind}`, { method: 'POST' });
        expect(res.status, kind).toBe(500);
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(body.error.code).toBe('internal');
        expect(body.error.message).not.toContain('thrown on purpose');
        await eventually(() =>
          expect(faultLine(kind)).toMatchObject({ level: 'error', msg: 'request failed' }),
        );
      }
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      expect(metrics).toMatch(/switchboard_unhandled_errors_total\{kind="exception"\} 2\b/);
      expect(metrics).toMatch(/switchboard_unhandled_errors_total\{kind="rejection"\} 1\b/);
      expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
      expect(gw.child.exitCode).toBeNull();
      expect(gw.logs.filter((l) => l.level === 'fatal')).toEqual([]);
    } finally {
      await gw.cleanup();
    }
  });

  it('the fault routes exist only in tests: refused without NODE_ENV=test and in production', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-faults-'));
    try {
      const base = { PORT: '0', INTEGRATION_DIRS: EMPTY_DIR, SWITCHBOARD_DATA_DIR: dataDir };
      const outside = await runSwitchboard(['start'], { ...base, SWITCHBOARD_TEST_FAULTS: '1' });
      expect(outside.code).toBe(2);
      expect(outside.stderr).toMatch(
        /SWITCHBOARD_TEST_FAULTS="1": only for the gateway's own tests/,
      );
      const production = await runSwitchboard(['start'], {
        ...base,
        ...FAULT_ENV,
        SWITCHBOARD_MODE: 'production',
      });
      expect(production.code).toBe(2);
      expect(production.stderr).toMatch(
        /SWITCHBOARD_TEST_FAULTS="1": refused when SWITCHBOARD_MODE=production/,
      );
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a gateway without the variable has no fault routes', async () => {
    const gw = await startGatewayProcess({ NODE_ENV: 'test' });
    try {
      const res = await fetch(`${gw.url}/__test/faults/timer`, { method: 'POST' });
      expect(res.status).toBe(404);
      expect(gw.child.exitCode).toBeNull();
    } finally {
      await gw.cleanup();
    }
  });
});

/** The default of `tokens.maxInFlight` (policy/src/schema.ts). */
const CAP = 32;

describe('in-flight MCP requests per task', () => {
  const gw = useHostileGateway();

  it(`holds at most ${CAP} of one task's calls; the rest get 429, another task is served`, async () => {
    const granted = await grantTask(gw(), ['hostile:*']);
    const { url, token } = integrationOf(granted, 'hostile');
    const held = new AbortController();
    const refused: Array<{ id: number; retryAfter: string | null; body: Record<string, unknown> }> =
      [];
    let answered = 0;
    // 100 sleeps of 10 minutes at once: none ends by itself during the test.
    const calls = Array.from({ length: 100 }, (_, i) =>
      post(url, token, toolCall(i + 1, 'sleep', { ms: 600_000 }), { signal: held.signal })
        .then(async (res) => {
          if (res.status !== 429) {
            answered += 1;
            return;
          }
          refused.push({
            id: i + 1,
            retryAfter: res.headers.get('retry-after'),
            body: (await res.json()) as Record<string, unknown>,
          });
        })
        .catch(() => {}),
    );
    await eventually(() => expect(refused.length).toBe(100 - CAP), 30_000);
    for (const r of refused) {
      expect(r.retryAfter).toBe('1');
      expect(r.body).toMatchObject({
        jsonrpc: '2.0',
        id: r.id,
        error: { code: -32000, data: { code: 'too_many_in_flight', limit: CAP } },
      });
    }
    // Still full, through another of the task's tokens too (the aggregate /mcp).
    const more = await post(url, token, toolCall(101, 'echo', { text: 'one more' }));
    expect(more.status).toBe(429);
    const aggregate = await post(
      granted.mcp.url,
      granted.mcp.token,
      toolCall(102, 'hostile__echo', { text: 'via /mcp' }),
    );
    expect(aggregate.status).toBe(429);

    // Another task is served meanwhile.
    const other = await grantTask(gw(), ['hostile:*']);
    const otherEndpoint = integrationOf(other, 'hostile');
    const served = await post(
      otherEndpoint.url,
      otherEndpoint.token,
      toolCall(1, 'echo', { text: 'still served' }),
    );
    expect(served.status).toBe(200);
    const [answer] = messagesOf(served.headers.get('content-type'), await served.text());
    expect(answer!.result).toEqual({ content: [{ type: 'text', text: 'still served' }] });
    expect(refused.length).toBe(100 - CAP);

    // The held calls end when their client leaves: their slots are free again.
    held.abort();
    await Promise.all(calls);
    expect(answered).toBeLessThanOrEqual(CAP);
    await eventually(async () => {
      const again = await post(url, token, toolCall(103, 'echo', { text: 'after' }));
      expect(again.status).toBe(200);
      const [message] = messagesOf(again.headers.get('content-type'), await again.text());
      expect(message!.result).toEqual({ content: [{ type: 'text', text: 'after' }] });
    }, 30_000);
  });
});

const textOf = (result: { content?: unknown }): string =>
  ((result.content as Array<{ type: string; text?: string }>)[0]?.text ?? '') as string;

describe('ask_user: one at a time per task, woken by the task event bus', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-guards-'));
  const gw = useTestGateway({
    INTEGRATION_DIRS: path.join(REPO_ROOT, 'test/fixtures/integrations'),
    SWITCHBOARD_POLICY: writeAgentPolicy(),
  });
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

  const reads = (taskId: string) =>
    gw().logs.lines.filter((l) => l.msg === 'ask_user: reading the session' && l.taskId === taskId)
      .length;

  it('refuses a second concurrent ask_user and answers the first from a notified message', async () => {
    const created = await api('POST', '/tasks', {
      profile: 'agent',
      session: 'chat:guards',
      prompt: JSON.stringify({ mode: 'sleep', out: path.join(tmp, 'ask.json') }),
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
    const env = config.body.env as Record<string, string>;
    const connect = async () => {
      const client = new Client({ name: 'request-guards-test', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${gw().url}/mcp/switchboard`), {
          requestInit: {
            headers: { authorization: `Bearer ${env.SWITCHBOARD_TOKEN_SWITCHBOARD}` },
          },
        }),
      );
      clients.push(client);
      return client;
    };
    const [first, second] = [await connect(), await connect()];

    const eventsSince = async (seq: string) =>
      (
        await gw().sql<{ n: number }[]>`
          select count(*)::int as n from task_events where task_id = ${task.id} and seq > ${seq}`
      )[0]!.n;
    const [{ seq: before } = { seq: '0' }] = await gw().sql<{ seq: string }[]>`
      select coalesce(max(seq), 0)::text as seq from task_events where task_id = ${task.id}`;
    // The reply below is notified: the read that finds it is the one the bus woke.
    const asking = first.callTool({
      name: 'ask_user',
      arguments: { question: 'Which branch?', timeoutSeconds: 25 },
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

    const refused = await second.callTool({
      name: 'ask_user',
      arguments: { question: 'And which commit?', timeoutSeconds: 5 },
    });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/already waiting for a reply/);

    // The session is read once at the start and then only when an event of the task commits
    // (its own task:ask_user, the tool_use events of these calls) or every 5 s: a 500 ms poll
    // made ~4 reads in these 2 s, whatever happened.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(reads(task.id)).toBeGreaterThanOrEqual(1);
    expect(reads(task.id)).toBeLessThanOrEqual(1 + (await eventsSince(before)));

    const posted = await api('POST', `/sessions/${task.sessionId}/messages`, {
      content: 'dev, please',
      notify: true,
    });
    expect(posted.status).toBe(201);
    const answer = await asking;
    expect(answer.isError).not.toBe(true);
    expect(answer.structuredContent).toMatchObject({ answered: true, reply: 'dev, please' });
    const lastRead = gw()
      .logs.lines.filter((l) => l.msg === 'ask_user: reading the session' && l.taskId === task.id)
      .at(-1);
    expect(lastRead?.woken).toBe(true);

    // The question is over: the next one is asked (and, unanswered, ends at its timeout).
    const next = await second.callTool({
      name: 'ask_user',
      arguments: { question: 'Anyone?', timeoutSeconds: 1 },
    });
    expect(next.isError).not.toBe(true);
    expect(textOf(next)).toMatch(/no reply/);
    await api('POST', `/tasks/${task.id}/cancel`, {});
  });
});
