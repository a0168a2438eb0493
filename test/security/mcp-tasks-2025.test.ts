/**
 * MCP tasks on the 2025-11-25 wire (gateway/src/mcp/mcp-task-methods-2025.ts) under attack,
 * through the whole gateway in this process (its TokenService mints a narrower token of one agent
 * task, which the API cannot), the real servers/fixture and the real 1.x SDK client: another
 * agent task's id; a token of the SAME agent task whose scope does not cover the row's tool, on
 * the 2025 methods and the 2026-07-28 ones alike; a ttl out of range; tasks/list pages that
 * cannot be made larger; a tasks/result wait that cannot outlast the call's bound, even while it
 * asks a client that refuses or never answers; another token answering a task's question.
 */
import fs from 'node:fs';
import {
  CallToolResultSchema,
  ElicitRequestSchema,
  ListTasksResultSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TASK_LIST_PAGE, MIN_MCP_TASK_TTL_MS } from '../../gateway/src/mcp-tasks/wire-2025.ts';
import { useTestGateway } from '../helpers/gateway.ts';
import {
  createTask,
  fixtureReady,
  fixtureRoot,
  getTask,
  MASTER_KEY,
  rpc,
  settle,
} from '../helpers/mcp-tasks.ts';
import {
  connect2025,
  createTask2025,
  errorCode,
  grantBoth,
  settle2025,
  textOf,
} from '../helpers/mcp-tasks-2025.ts';

const setup = fixtureRoot('security-2025');
// The call's bound (maxCallDuration) is what a tasks/result wait is capped by: 3 s here.
fs.writeFileSync(
  setup.policy,
  [
    'apiVersion: switchboard/policy/v1',
    'integrations:',
    '  fixture: { enabled: true, grants: [], maxCallDuration: 3s }',
    'tokens: { defaultTtl: 1h, maxTtl: 2h, maxInFlight: 200 }',
    '',
  ].join('\n'),
);
afterAll(() => setup.remove());

/** The claims of a JWT (no verification: the test reads what the gateway minted). */
function claimsOf(token: string): { aud: string; sub: string } {
  const payload = token.split('.')[1] as string;
  return JSON.parse(Buffer.from(payload, 'base64url').toString()) as { aud: string; sub: string };
}

describe('2025-11-25 MCP tasks: who may see and act on one', () => {
  const gateway = useTestGateway({
    INTEGRATION_DIRS: setup.root,
    SWITCHBOARD_POLICY: setup.policy,
    SWITCHBOARD_MASTER_KEY: MASTER_KEY,
  });
  let url: string;
  beforeAll(async () => {
    url = gateway().url;
    await fixtureReady(url);
  }, 120_000);

  it("another agent task's task id is unknown to get, result, cancel and list, and nothing changes", async () => {
    const owner = await grantBoth(url);
    const other = await grantBoth(url);
    const mine = await connect2025(`${url}/mcp`, owner.token);
    const theirs = await connect2025(`${url}/mcp`, other.token);
    const theirsOnFixture = await connect2025(other.fixture.url, other.fixture.token);
    try {
      const task = await createTask2025(mine, 'fixture__slow_compute', { seconds: 2 });
      const id = task.taskId as string;
      for (const client of [theirs, theirsOnFixture]) {
        expect(await errorCode(client.experimental.tasks.getTask(id))).toBe(-32602);
        expect(
          await errorCode(client.experimental.tasks.getTaskResult(id, CallToolResultSchema)),
        ).toBe(-32602);
        expect(await errorCode(client.experimental.tasks.cancelTask(id))).toBe(-32602);
        const listed = await client.request(
          { method: 'tasks/list', params: {} },
          ListTasksResultSchema,
        );
        expect(listed.tasks.map((t) => t.taskId)).not.toContain(id);
      }
      // A never-existing id answers the same.
      expect(await errorCode(theirs.experimental.tasks.getTask('no-such-task'))).toBe(-32602);
      // Not cancelled by the other's attempt: it runs to completion.
      expect((await settle2025(mine, id)).status).toBe('completed');
    } finally {
      for (const c of [mine, theirs, theirsOnFixture]) await c.close();
    }
  }, 60_000);

  it("a token of the same agent task whose scope does not cover the row's tool cannot see it, on the 2025 and the 2026-07-28 methods", async () => {
    const owner = await grantBoth(url);
    const { aud, sub } = claimsOf(owner.token);
    // A second token of the same agent task, granted `greet` and `failing_job` (a task tool, so
    // its servers still offer the task methods) but not `slow_compute`, the rows' tool.
    const narrow = await gateway().tokens.mint({
      taskId: sub.replace(/^task:/, ''),
      sessionId: null,
      scope: ['fixture:greet', 'fixture:failing_job'],
      audience: aud,
      ttlMs: 60 * 60_000,
    });
    const full = await connect2025(`${url}/mcp`, owner.token);
    const limited = await connect2025(`${url}/mcp`, narrow.token);
    try {
      const legacy = (await createTask2025(full, 'fixture__slow_compute', { seconds: 0 }))
        .taskId as string;
      const modern = await createTask(url, owner.token, 'slow_compute', { seconds: 0 });
      await settle2025(full, legacy);
      await settle(url, owner.token, modern);
      for (const id of [legacy, modern]) {
        // The full token sees both rows on both wires (one store).
        expect((await full.experimental.tasks.getTask(id)).status).toBe('completed');
        expect((await getTask(url, owner.token, id)).result?.status).toBe('completed');
        // The narrow one: unknown everywhere.
        expect(await errorCode(limited.experimental.tasks.getTask(id))).toBe(-32602);
        expect(
          await errorCode(limited.experimental.tasks.getTaskResult(id, CallToolResultSchema)),
        ).toBe(-32602);
        expect(await errorCode(limited.experimental.tasks.cancelTask(id))).toBe(-32602);
        for (const method of ['tasks/get', 'tasks/update', 'tasks/cancel']) {
          const answer = await rpc(url, narrow.token, method, { taskId: id });
          expect(answer.error?.code, `${method} ${JSON.stringify(answer)}`).toBe(-32602);
        }
      }
      expect(limited.getServerCapabilities()?.tasks).toBeDefined();
      const listed = await limited.request(
        { method: 'tasks/list', params: {} },
        ListTasksResultSchema,
      );
      expect(listed.tasks).toEqual([]);
      const fullList = await full.request(
        { method: 'tasks/list', params: {} },
        ListTasksResultSchema,
      );
      expect(fullList.tasks.map((t) => t.taskId).sort()).toEqual([legacy, modern].sort());
      // Nor can it create one for a tool outside its scope: the tool is unknown to it.
      const refused = limited.request(
        {
          method: 'tools/call',
          params: { name: 'fixture__slow_compute', arguments: {}, task: {} },
        },
        CallToolResultSchema,
      );
      expect(await errorCode(refused)).toBe(-32602);
    } finally {
      await full.close();
      await limited.close();
    }
    // A token granted only sync tools is offered no tasks at all (2025 and 2026 alike).
    const syncOnly = await gateway().tokens.mint({
      taskId: sub.replace(/^task:/, ''),
      sessionId: null,
      scope: ['fixture:greet'],
      audience: aud,
      ttlMs: 60 * 60_000,
    });
    const plain = await connect2025(`${url}/mcp`, syncOnly.token);
    try {
      expect(plain.getServerCapabilities()?.tasks).toBeUndefined();
      expect(await errorCode(plain.experimental.tasks.getTask('x'))).toBe(-32601);
    } finally {
      await plain.close();
    }
    expect((await rpc(url, syncOnly.token, 'tasks/get', { taskId: 'x' })).error?.code).toBe(-32601);
  }, 60_000);

  it('a ttl out of range is clamped into [1 min, 1 h]', async () => {
    const owner = await grantBoth(url);
    const client = await connect2025(`${url}/mcp`, owner.token);
    try {
      const cases: Array<[unknown, number]> = [
        [1, MIN_MCP_TASK_TTL_MS],
        [-5, MIN_MCP_TASK_TTL_MS],
        [1e15, 3_600_000],
        [90_000, 90_000],
      ];
      for (const [ttl, expected] of cases) {
        const task = await createTask2025(client, 'fixture__slow_compute', { seconds: 0 }, { ttl });
        expect(task.ttl, String(ttl)).toBe(expected);
        expect((await client.experimental.tasks.getTask(task.taskId as string)).ttl).toBe(expected);
      }
      const rows = await gateway().sql<{ ttl: number; life: number }[]>`
        select ttl_ms as ttl,
               round(extract(epoch from (expires_at - created_at)) * 1000)::integer as life
          from mcp_tasks where agent_task_id = ${claimsOf(owner.token).sub.replace(/^task:/, '')}`;
      expect(rows.map((r) => r.life).sort((a, b) => a - b)).toEqual(
        rows.map((r) => r.ttl).sort((a, b) => a - b),
      );
      expect(Math.max(...rows.map((r) => r.life))).toBe(3_600_000);
    } finally {
      await client.close();
    }
  }, 60_000);

  it('tasks/list pages stay at most 20 tasks whatever the cursor says, and a forged cursor is -32602', async () => {
    const owner = await grantBoth(url);
    const client = await connect2025(`${url}/mcp`, owner.token);
    try {
      for (let i = 0; i < 30; i++) {
        await createTask2025(client, 'fixture__slow_compute', { seconds: 0 });
      }
      const list = (cursor?: string) =>
        client.request(
          { method: 'tasks/list', params: cursor === undefined ? {} : { cursor } },
          ListTasksResultSchema,
        );
      const first = await list();
      expect(first.tasks.length).toBe(MAX_TASK_LIST_PAGE);
      // A well-formed cursor pointing before every row: still one page.
      const start = Buffer.from(JSON.stringify({ v: 1, t: '0', i: 'a' })).toString('base64url');
      const forged = await list(start);
      expect(forged.tasks.length).toBe(MAX_TASK_LIST_PAGE);
      expect(forged.nextCursor).toBeDefined();
      for (const bad of [
        'garbage',
        Buffer.from(JSON.stringify({ v: 1, t: '-1', i: 'a' })).toString('base64url'),
        Buffer.from(JSON.stringify({ v: 1, t: '99999999999999999999', i: 'a' })).toString(
          'base64url',
        ),
        Buffer.from(JSON.stringify({ v: 2, t: '0', i: 'a' })).toString('base64url'),
        'x'.repeat(5_000),
      ]) {
        expect(await errorCode(list(bad)), bad.slice(0, 40)).toBe(-32602);
      }
    } finally {
      await client.close();
    }
  }, 60_000);

  it("a tasks/result wait ends at the call's bound (maxCallDuration 3 s) and the task stays input_required, whether the client refuses the question or never answers it", async () => {
    const owner = await grantBoth(url);
    // Declares elicitation, so the fixture's question parks the task input_required and
    // tasks/result asks it; `refusing` has no handler (the 1.x client answers -32601),
    // `mute` never answers.
    const refusing = await connect2025(`${url}/mcp`, owner.token, { elicitation: {} });
    const mute = await connect2025(`${url}/mcp`, owner.token, { elicitation: {} });
    let asked = 0;
    mute.setRequestHandler(ElicitRequestSchema, () => {
      asked += 1;
      return new Promise<never>(() => {});
    });
    try {
      for (const [client, label] of [
        [refusing, 'refusing'],
        [mute, 'mute'],
      ] as const) {
        const task = await createTask2025(client, 'fixture__confirm_delete', { filename: label });
        const id = task.taskId as string;
        await settle2025(client, id, ['input_required']);
        const started = performance.now();
        let error: { code?: number; data?: { code?: string } } | undefined;
        try {
          await client.experimental.tasks.getTaskResult(id, CallToolResultSchema, {
            timeout: 30_000,
          });
        } catch (e) {
          error = e as typeof error;
        }
        const waited = performance.now() - started;
        console.log(`${label}: tasks/result gave up after ${Math.round(waited)} ms (bound 3 s)`);
        expect(error?.code).toBe(-32000);
        expect(error?.data?.code).toBe('mcp_task_wait_timeout');
        expect(waited).toBeGreaterThan(2_500);
        expect(waited).toBeLessThan(8_000);
        expect((await client.experimental.tasks.getTask(id)).status).toBe('input_required');
      }
      expect(asked).toBe(1);
    } finally {
      await refusing.close();
      await mute.close();
    }
  }, 60_000);

  it("another agent task's token cannot answer a task's question, nor can the owner replay its answer", async () => {
    const owner = await grantBoth(url);
    const intruder = await grantBoth(url);
    const client = await connect2025(`${url}/mcp`, owner.token, { elicitation: {} });
    let requestId: string | number | undefined;
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    client.setRequestHandler(ElicitRequestSchema, async (_request, extra) => {
      requestId = extra.requestId;
      await released;
      return { action: 'accept', content: { confirm: false } };
    });
    const reply = (token: string, confirm: boolean) =>
      fetch(`${url}/mcp`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-11-25',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: requestId,
          result: { action: 'accept', content: { confirm } },
        }),
      });
    try {
      const task = await createTask2025(client, 'fixture__confirm_delete', { filename: 'mine' });
      const id = task.taskId as string;
      const result = client.experimental.tasks.getTaskResult(id, CallToolResultSchema);
      await expect.poll(() => requestId, { timeout: 10_000 }).toBeDefined();
      expect(String(requestId)).toMatch(/^switchboard-\d+$/);
      // The intruder's answer to the owner's question: refused, and the task still waits.
      const stolen = await reply(intruder.token, true);
      expect(stolen.status).toBe(400);
      expect((await client.experimental.tasks.getTask(id)).status).toBe('input_required');
      release();
      expect(textOf(await result)).toBe('kept mine');
      // The owner's answer again, once it was taken: nothing waits for it any more.
      expect((await reply(owner.token, true)).status).toBe(400);
      expect((await client.experimental.tasks.getTask(id)).status).toBe('completed');
    } finally {
      await client.close();
    }
  }, 60_000);
});
