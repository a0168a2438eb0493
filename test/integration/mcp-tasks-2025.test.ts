/**
 * The 2025-11-25 task wire (gateway/src/mcp/mcp-task-methods-2025.ts) through a real
 * `switchboard start` process, the real servers/fixture over stdio and the real 1.x SDK client
 * (`client.experimental.tasks`): capabilities.tasks, optional and required tools as tasks on
 * /mcp and /mcp/fixture, tasks/result blocking on a slow task, cancel, 45 tasks listed over
 * pages, client input asked on tasks/result and answered, and (PostgreSQL) a task created on
 * one gateway process read and awaited on another, its question answered through the other.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  CallToolResultSchema,
  ElicitRequestSchema,
  ListTasksResultSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usingPostgres } from '../helpers/database.ts';
import {
  type GatewayProcess,
  gatewayDatabase,
  listenUrl,
  startGatewayProcess,
} from '../helpers/gateway-process.ts';
import { fixtureReady, fixtureRoot, frontedGateways, MASTER_KEY } from '../helpers/mcp-tasks.ts';
import {
  connect2025,
  createTask2025,
  errorCode,
  grantBoth,
  type Json,
  settle2025,
  textOf,
} from '../helpers/mcp-tasks-2025.ts';

const setup = fixtureRoot('integration-2025');
afterAll(() => setup.remove());

const RELATED = 'io.modelcontextprotocol/related-task';

/** A fetch for the 1.x client: its replies to the gateway's requests go to `replies`, all else to `rest`. */
function repliesTo(replies: string, rest: string, count: { replies: number }): typeof fetch {
  return (input, init) => {
    let reply = false;
    try {
      const body = JSON.parse(typeof init?.body === 'string' ? init.body : 'null') as Json | null;
      reply = body !== null && body.method === undefined && ('result' in body || 'error' in body);
    } catch {}
    if (reply) count.replies += 1;
    const headers = new Headers(init?.headers);
    headers.set('x-test-backend', reply ? replies : rest);
    return fetch(input, { ...init, headers });
  };
}

describe('2025-11-25 MCP tasks on one gateway', () => {
  let gw: GatewayProcess;
  let url: string;
  let grant: Awaited<ReturnType<typeof grantBoth>>;
  let aggregate: Client;
  let single: Client;

  beforeAll(async () => {
    gw = await startGatewayProcess({
      INTEGRATION_DIRS: setup.root,
      SWITCHBOARD_POLICY: setup.policy,
      SWITCHBOARD_MASTER_KEY: MASTER_KEY,
    });
    url = gw.url;
    await fixtureReady(url);
    grant = await grantBoth(url);
    aggregate = await connect2025(`${url}/mcp`, grant.token);
    single = await connect2025(grant.fixture.url, grant.fixture.token);
  }, 120_000);
  afterAll(async () => {
    await aggregate?.close();
    await single?.close();
    await gw?.cleanup();
  });

  it('declares capabilities.tasks and keeps execution.taskSupport in tools/list (both endpoints)', async () => {
    for (const client of [aggregate, single]) {
      expect(client.getServerCapabilities()?.tasks).toEqual({
        list: {},
        cancel: {},
        requests: { tools: { call: {} } },
      });
      const { tools } = await client.listTools();
      const support = Object.fromEntries(
        tools.map((t) => [t.name.replace(/^fixture__/, ''), t.execution?.taskSupport]),
      );
      expect(support.slow_compute).toBe('optional');
      expect(support.failing_job).toBe('required');
    }
  });

  it('an optional tool as a task on /mcp and /mcp/fixture: CreateTaskResult, tasks/get, tasks/result with the related-task _meta', async () => {
    for (const [client, name] of [
      [aggregate, 'fixture__slow_compute'],
      [single, 'slow_compute'],
    ] as const) {
      const task = await createTask2025(client, name, { seconds: 0, label: name });
      expect(task.status).toBe('working');
      expect(task.ttl).toBe(60 * 60 * 1000);
      expect(task.pollInterval).toBe(500);
      expect(Date.parse(task.createdAt as string)).not.toBeNaN();
      const id = task.taskId as string;
      expect((await settle2025(client, id)).status).toBe('completed');
      const result = await client.experimental.tasks.getTaskResult(id, CallToolResultSchema);
      expect(textOf(result)).toBe(`computed ${name} after 0s`);
      expect(result._meta?.[RELATED]).toEqual({ taskId: id });
    }
    // Without params.task the optional tool runs sync, as before.
    const sync = await aggregate.callTool({
      name: 'fixture__slow_compute',
      arguments: { seconds: 0 },
    });
    expect(textOf(sync)).toBe('computed  after 0s');
  });

  it('a required tool: -32601 without params.task (SDK path and fast path alike), a task with it; a tool error is a failed task whose result is the tool error', async () => {
    for (const [client, name] of [
      [aggregate, 'fixture__failing_job'],
      [single, 'failing_job'],
    ] as const) {
      // client.request, not callTool: the 1.x client refuses a required tool's plain call itself.
      const plain = client.request(
        { method: 'tools/call', params: { name, arguments: {} } },
        CallToolResultSchema,
      );
      expect(await errorCode(plain)).toBe(-32601);
      const messages: Json[] = [];
      for await (const message of client.experimental.tasks.callToolStream({ name })) {
        messages.push(message as unknown as Json);
      }
      expect(messages[0]?.type).toBe('taskCreated');
      const last = messages[messages.length - 1] as { type: string; error?: { message: string } };
      expect(last.type).toBe('error');
      expect(last.error?.message).toMatch(/failed/);
      const id = (messages[0]?.task as Json | undefined)?.taskId as string;
      const task = await client.experimental.tasks.getTask(id);
      expect([task.status, task.statusMessage]).toEqual([
        'failed',
        expect.stringMatching(/isError/),
      ]);
      const result = await client.experimental.tasks.getTaskResult(id, CallToolResultSchema);
      expect([result.isError, textOf(result)]).toEqual([true, 'failing_job failed on purpose']);
    }
  }, 60_000);

  it('callToolStream runs an optional tool to its result (taskCreated, taskStatus…, result)', async () => {
    const types: string[] = [];
    let result: unknown;
    for await (const message of aggregate.experimental.tasks.callToolStream(
      { name: 'fixture__slow_compute', arguments: { seconds: 1, label: 's' } },
      CallToolResultSchema,
      { task: { ttl: 120_000 } },
    )) {
      types.push(message.type);
      if (message.type === 'taskCreated') expect(message.task.ttl).toBe(120_000);
      if (message.type === 'result') result = message.result;
    }
    expect(types[0]).toBe('taskCreated');
    expect(types).toContain('taskStatus');
    expect(types[types.length - 1]).toBe('result');
    expect(textOf(result)).toBe('computed s after 1s');
  }, 30_000);

  it('tasks/result of a slow task blocks until it completes', async () => {
    const task = await createTask2025(aggregate, 'fixture__slow_compute', { seconds: 2 });
    const started = performance.now();
    const result = await aggregate.experimental.tasks.getTaskResult(
      task.taskId as string,
      CallToolResultSchema,
    );
    const waited = performance.now() - started;
    console.log(`tasks/result waited ${Math.round(waited)} ms for a 2 s call`);
    expect(waited).toBeGreaterThan(1_500);
    expect(textOf(result)).toBe('computed  after 2s');
  }, 30_000);

  it('tasks/cancel answers the cancelled Task; cancelling again is -32602; tasks/result then is an error', async () => {
    const task = await createTask2025(aggregate, 'fixture__slow_compute', { seconds: 60 });
    const id = task.taskId as string;
    await settle2025(aggregate, id, ['working']);
    // A tasks/result waiting meanwhile ends with the cancel (the bus), not at its bound.
    const waiting = errorCode(
      aggregate.experimental.tasks.getTaskResult(id, CallToolResultSchema),
    ).then((code) => ({ code, at: performance.now() }));
    await new Promise((r) => setTimeout(r, 300));
    const cancelledAt = performance.now();
    const cancelled = await aggregate.experimental.tasks.cancelTask(id);
    expect([cancelled.taskId, cancelled.status]).toEqual([id, 'cancelled']);
    const waited = await waiting;
    expect(waited.code).toBe(-32603);
    expect(waited.at - cancelledAt).toBeLessThan(1_500);
    expect(await errorCode(aggregate.experimental.tasks.cancelTask(id))).toBe(-32602);
    // Still cancelled later: the aborted run did not overwrite it.
    await new Promise((r) => setTimeout(r, 500));
    expect((await aggregate.experimental.tasks.getTask(id)).status).toBe('cancelled');
    // A completed task cannot be cancelled either.
    const done = await createTask2025(aggregate, 'fixture__slow_compute', { seconds: 0 });
    await settle2025(aggregate, done.taskId as string);
    expect(await errorCode(aggregate.experimental.tasks.cancelTask(done.taskId as string))).toBe(
      -32602,
    );
  }, 60_000);

  it('45 tasks are listed over pages: each once, in creation order, the same twice; /mcp/fixture lists them too', async () => {
    const own = await grantBoth(url);
    const client = await connect2025(`${url}/mcp`, own.token);
    const fixture = await connect2025(own.fixture.url, own.fixture.token);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 45; i++) {
        const task = await createTask2025(client, 'fixture__slow_compute', { seconds: 0 });
        ids.push(task.taskId as string);
      }
      const walk = async (c: Client) => {
        const seen: string[] = [];
        let pages = 0;
        let cursor: string | undefined;
        do {
          const page = await c.request(
            { method: 'tasks/list', params: cursor === undefined ? {} : { cursor } },
            ListTasksResultSchema,
          );
          pages += 1;
          expect(page.tasks.length).toBeLessThanOrEqual(20);
          seen.push(...page.tasks.map((t) => t.taskId));
          cursor = page.nextCursor;
        } while (cursor !== undefined && pages < 10);
        return { seen, pages };
      };
      const first = await walk(client);
      expect(first.pages).toBe(3);
      expect(first.seen).toEqual(ids);
      expect((await walk(client)).seen).toEqual(ids);
      expect((await walk(fixture)).seen).toEqual(ids);
      const bad = client.request(
        { method: 'tasks/list', params: { cursor: 'not-a-cursor' } },
        ListTasksResultSchema,
      );
      expect(await errorCode(bad)).toBe(-32602);
    } finally {
      await client.close();
      await fixture.close();
    }
  }, 120_000);

  it('a tool asking for input: tasks/result sends the question to the client (related-task _meta) and the answer completes the task (callToolStream and getTaskResult)', async () => {
    const asking = await connect2025(`${url}/mcp`, grant.token, { elicitation: {} });
    const asked: Json[] = [];
    asking.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(request.params as Json);
      return { action: 'accept', content: { confirm: asked.length === 1 } };
    });
    try {
      // callToolStream: tasks/get polls see input_required, then it calls tasks/result (1.x SDK).
      let streamed: unknown;
      let taskId = '';
      for await (const message of asking.experimental.tasks.callToolStream(
        { name: 'fixture__confirm_delete', arguments: { filename: 'x' } },
        CallToolResultSchema,
        { task: { ttl: 60_000 } },
      )) {
        if (message.type === 'taskCreated') taskId = message.task.taskId;
        if (message.type === 'result') streamed = message.result;
        if (message.type === 'error') throw message.error;
      }
      expect(textOf(streamed)).toBe('deleted x');
      expect(taskId).not.toBe('');
      // getTaskResult at once: it waits through the run, asks, then waits for the next run.
      const task = await createTask2025(asking, 'fixture__confirm_delete', { filename: 'y' });
      const id = task.taskId as string;
      const result = await asking.experimental.tasks.getTaskResult(id, CallToolResultSchema);
      expect(textOf(result)).toBe('kept y');
      expect((await asking.experimental.tasks.getTask(id)).status).toBe('completed');
      expect(asked.map((p) => [p.message, (p._meta as Json | undefined)?.[RELATED]])).toEqual([
        ['Delete x?', { taskId }],
        ['Delete y?', { taskId: id }],
      ]);
      // A client that declared no input kinds (its own token: the handshake is remembered per
      // token): the upstream may not ask it, and the task fails instead of parking.
      const other = await grantBoth(url);
      const silent = await connect2025(`${url}/mcp`, other.token);
      try {
        const none = await createTask2025(silent, 'fixture__confirm_delete', { filename: 'y' });
        expect((await settle2025(silent, none.taskId as string)).status).toBe('failed');
      } finally {
        await silent.close();
      }
    } finally {
      await asking.close();
    }
  }, 60_000);
});

describe('2025-11-25 MCP tasks across gateway processes', () => {
  const gateways = frontedGateways(() => ({
    INTEGRATION_DIRS: setup.root,
    SWITCHBOARD_POLICY: setup.policy,
    SWITCHBOARD_MASTER_KEY: MASTER_KEY,
  }));

  it('two gateways on one PostgreSQL: created on A, tasks/get, tasks/result and tasks/list on B', async (ctx) => {
    if (!usingPostgres) {
      console.log(
        'skipped: two gateway processes need a shared PostgreSQL (DATABASE_URL); embedded PGlite is one process',
      );
      ctx.skip();
      return;
    }
    const front = gateways.front();
    const a = await gateways.start();
    const b = await gateways.start({ DATABASE_URL: gatewayDatabase(a) });
    await fixtureReady(front.via(listenUrl(a)));
    await fixtureReady(front.via(listenUrl(b)));
    const grant = await grantBoth(front.via(listenUrl(a)));
    const onA = await connect2025(
      `${front.url}/mcp`,
      grant.token,
      {},
      {
        'x-test-backend': listenUrl(a),
      },
    );
    const onB = await connect2025(
      `${front.url}/mcp`,
      grant.token,
      {},
      {
        'x-test-backend': listenUrl(b),
      },
    );
    try {
      const task = await createTask2025(onA, 'fixture__slow_compute', { seconds: 2, label: 'x' });
      const id = task.taskId as string;
      expect((await onB.experimental.tasks.getTask(id)).taskId).toBe(id);
      const result = await onB.experimental.tasks.getTaskResult(id, CallToolResultSchema);
      expect(textOf(result)).toBe('computed x after 2s');
      expect(result._meta?.[RELATED]).toEqual({ taskId: id });
      const listed = await onB.request({ method: 'tasks/list', params: {} }, ListTasksResultSchema);
      expect(listed.tasks.map((t) => [t.taskId, t.status])).toEqual([[id, 'completed']]);

      // Client input across replicas: tasks/result waits on A, the client's answer to A's
      // question is POSTed to B, which hands it over (client-replies.ts) and the task completes.
      const toB = { replies: 0 };
      const split = await connect2025(
        `${front.url}/mcp`,
        grant.token,
        { elicitation: {} },
        {},
        repliesTo(listenUrl(b), listenUrl(a), toB),
      );
      split.setRequestHandler(ElicitRequestSchema, async () => ({
        action: 'accept',
        content: { confirm: true },
      }));
      try {
        const asking = await createTask2025(split, 'fixture__confirm_delete', { filename: 'ab' });
        const askingId = asking.taskId as string;
        await settle2025(split, askingId, ['input_required']);
        const answered = await split.experimental.tasks.getTaskResult(
          askingId,
          CallToolResultSchema,
        );
        expect(textOf(answered)).toBe('deleted ab');
        expect(toB.replies).toBe(1);
      } finally {
        await split.close();
      }
    } finally {
      await onA.close();
      await onB.close();
    }
  }, 180_000);
});
