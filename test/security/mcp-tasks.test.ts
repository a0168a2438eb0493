/**
 * MCP tasks (the tasks extension, SEP-2663; gateway/src/mcp-tasks/) under attack, through a real
 * `switchboard start` process, the real servers/fixture and a raw 2026-07-28 HTTP client:
 * another agent task's token reading, updating or cancelling a task by its id; a revoked token;
 * ids that can be guessed; one token creating rows without bound; rows past their ttl kept.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sql } from '../../gateway/src/db/connect.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { runRetention } from '../../gateway/src/retention/job.ts';
import { useMigratedDatabase, usingPostgres } from '../helpers/database.ts';
import {
  type GatewayProcess,
  gatewayDatabase,
  startGatewayProcess,
} from '../helpers/gateway-process.ts';
import {
  api,
  createTask,
  fixtureReady,
  fixtureRoot,
  getTask,
  grantTask,
  MASTER_KEY,
  rpc,
  settle,
} from '../helpers/mcp-tasks.ts';

const setup = fixtureRoot('security');
afterAll(() => setup.remove());

describe('MCP tasks: who may see and act on one', () => {
  let gw: GatewayProcess;
  let url: string;

  beforeAll(async () => {
    gw = await startGatewayProcess({
      INTEGRATION_DIRS: setup.root,
      SWITCHBOARD_POLICY: setup.policy,
      SWITCHBOARD_MASTER_KEY: MASTER_KEY,
    });
    url = gw.url;
    await fixtureReady(url);
  }, 120_000);
  afterAll(async () => gw?.cleanup());

  it("another agent task's token gets the unknown-id answer for get, update and cancel, and changes nothing", async () => {
    const owner = await grantTask(url);
    const other = await grantTask(url);
    const id = await createTask(url, owner.token, 'confirm_delete', { filename: 'a.txt' });
    await settle(url, owner.token, id, ['input_required']);
    const missing = await getTask(url, other.token, 'no-such-task-id');
    expect(missing.error?.code).toBe(-32602);
    for (const [method, params] of [
      ['tasks/get', { taskId: id }],
      [
        'tasks/update',
        {
          taskId: id,
          inputResponses: { confirm: { action: 'accept', content: { confirm: true } } },
        },
      ],
      ['tasks/cancel', { taskId: id }],
    ] as const) {
      const answer = await rpc(url, other.token, method, params);
      // Indistinguishable from an id that never existed: same code, same message.
      expect([answer.error?.code, answer.error?.message], method).toEqual([
        missing.error?.code,
        missing.error?.message,
      ]);
    }
    expect((await getTask(url, owner.token, id)).result?.status).toBe('input_required');
    await rpc(url, owner.token, 'tasks/cancel', { taskId: id });
  }, 60_000);

  it('a revoked token can do nothing with its tasks, and its running call stops failed', async () => {
    const owner = await grantTask(url);
    const id = await createTask(url, owner.token, 'slow_compute', { seconds: 0 });
    await settle(url, owner.token, id);
    const running = await createTask(url, owner.token, 'slow_compute', { seconds: 120 });
    await settle(url, owner.token, running, ['working']);
    expect((await api(url, 'POST', `/tasks/${owner.id}/complete`, {})).status).toBeLessThan(300);
    for (const method of ['tasks/get', 'tasks/cancel']) {
      expect((await rpc(url, owner.token, method, { taskId: id })).status).toBe(401);
    }
    if (!usingPostgres) {
      console.log(
        'not checked on PGlite: the row of the stopped call (the embedded database admits the gateway process only)',
      );
      return;
    }
    // Nobody can ask any more, so the row is read from the database: the call was stopped.
    const sql = postgres(gatewayDatabase(gw), { max: 1, onnotice: () => {} });
    try {
      await expect
        .poll(
          async () =>
            (
              await sql<{ status: string; message: string | null }[]>`
              select status, error->>'message' as message from mcp_tasks where id = ${running}`
            )[0],
          { timeout: 20_000 },
        )
        .toEqual({ status: 'failed', message: expect.stringMatching(/revoked or expired/) });
    } finally {
      await sql.end();
    }
  }, 60_000);

  it('ids carry 192 random bits (32 base64url characters) and never repeat', async () => {
    const { token } = await grantTask(url);
    const ids = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const id = await createTask(url, token, 'slow_compute', { seconds: 0 });
      expect(id).toMatch(/^[A-Za-z0-9_-]{32}$/);
      ids.add(id);
    }
    expect(ids.size).toBe(30);
  }, 120_000);

  it('105 round-1 calls (MRTR before the task) leave no row behind: all pass the open cap of 100, none is a task', async () => {
    const { token } = await grantTask(url);
    for (let i = 0; i < 105; i++) {
      const round1 = await rpc(url, token, 'tools/call', {
        name: 'fixture__test_tool_with_task',
        arguments: {},
      });
      expect(round1.result?.resultType, JSON.stringify(round1)).toBe('input_required');
      expect('taskId' in (round1.result ?? {})).toBe(false);
    }
    // Still room: a real task is accepted after them.
    const id = await createTask(url, token, 'slow_compute', { seconds: 0 });
    expect((await settle(url, token, id)).status).toBe('completed');
  }, 120_000);

  it('one agent task holds at most 100 open MCP tasks: the 101st is refused (mcp_task_limit)', async () => {
    const { token } = await grantTask(url);
    const open: string[] = [];
    for (let i = 0; i < 100; i++) {
      open.push(await createTask(url, token, 'slow_compute', { seconds: 600 }));
    }
    const refused = await rpc(url, token, 'tools/call', {
      name: 'fixture__slow_compute',
      arguments: { seconds: 600 },
    });
    expect(refused.error?.code).toBe(-32000);
    expect((refused.error?.data as { code?: string } | undefined)?.code).toBe('mcp_task_limit');
    // A round-1 call (MRTR before the task) is a row while it waits: the cap counts it too.
    const round1 = await rpc(url, token, 'tools/call', {
      name: 'fixture__test_tool_with_task',
      arguments: {},
    });
    expect((round1.error?.data as { code?: string } | undefined)?.code).toBe('mcp_task_limit');
    // Another agent task is not held back by this one's: neither its cap nor the worker's slots
    // (10 running per agent task; the others wait queued). Without that bound its call waited
    // for the 60 s upstream timeout of one of the 50 calls holding every slot.
    const other = await grantTask(url);
    const theirs = await createTask(url, other.token, 'slow_compute', { seconds: 0 });
    const started = performance.now();
    await settle(url, other.token, theirs, undefined, 30_000);
    console.log(
      `another agent task's call beside 100 open ones: ${Math.round(performance.now() - started)} ms`,
    );
    // A cancelled one frees its place.
    await rpc(url, token, 'tasks/cancel', { taskId: open[0] as string });
    open.push(await createTask(url, token, 'slow_compute', { seconds: 0 }));
    for (const id of open) await rpc(url, token, 'tasks/cancel', { taskId: id });
  }, 240_000);
});

describe('MCP tasks: rows past their ttl', () => {
  const db = useMigratedDatabase();
  const log = createLogger('silent');

  it('are deleted by the retention job (in batches), live ones are kept', async () => {
    const sql: Sql = db().sql;
    await sql`
      insert into mcp_tasks (id, agent_task_id, token_id, claims, integration, tool,
                             requested_name, ttl_ms, poll_interval_ms, expires_at)
      select 'expired-' || g, 'agent', 'jti', '{}'::jsonb, 'fixture', 'slow_compute',
             'slow_compute', 1000, 500, now() - interval '1 second'
        from generate_series(1, 30) g`;
    await sql`
      insert into mcp_tasks (id, agent_task_id, token_id, claims, integration, tool,
                             requested_name, ttl_ms, poll_interval_ms, expires_at)
      values ('live', 'agent', 'jti', '{}'::jsonb, 'fixture', 'slow_compute', 'slow_compute',
              3600000, 500, now() + interval '1 hour')`;
    const off = { deliveriesMs: null, taskEventsMs: null, auditMs: null, intervalMs: 3_600_000 };
    const counts = await runRetention(sql, off as never, { log, batch: 25 });
    expect(counts.mcpTasks).toBe(30);
    const left = await sql<{ id: string }[]>`select id from mcp_tasks`;
    expect(left.map((r) => r.id)).toEqual(['live']);
  });
});
