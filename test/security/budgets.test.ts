/**
 * Attacks on task budgets (issue 15; gateway/src/guards/budgets.ts, tasks/sql/budgets.ts):
 * an agent resetting or widening its budget, calls fired at once to overshoot the limit (through
 * a real gateway process, and two guards — two replicas — on one database), and the counts'
 * rows growing without bound.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { policySchema } from '@switchboard/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessBus } from '../../gateway/src/db/bus.ts';
import { createBudgetGuard } from '../../gateway/src/guards/budgets.ts';
import type { GuardedCall, ToolCallGuard } from '../../gateway/src/guards/guard.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { createExternalTask } from '../../gateway/src/tasks/create.ts';
import { insertGrantBudget } from '../../gateway/src/tasks/sql/budgets.ts';
import { useMigratedDatabase } from '../helpers/database.ts';
import { ADMIN_KEY, REPO_ROOT } from '../helpers/gateway.ts';
import { type GatewayProcess, startGatewayProcess } from '../helpers/gateway-process.ts';

type Json = Record<string, unknown>;

describe('budgets against a real gateway process', () => {
  let gw: GatewayProcess;
  const clients: Client[] = [];
  const api = async (method: string, route: string, body?: unknown, key = ADMIN_KEY) => {
    const res = await fetch(`${gw.url}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Json };
  };
  const connect = async (token: string, route = '/mcp') => {
    const client = new Client({ name: 'budget-attacker', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${gw.url}${route}`), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    clients.push(client);
    return client;
  };
  const grant = async (budget: Json) => {
    const created = await api('POST', '/tasks', { external: true, scope: ['echo:*'], budget });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    return created.json as {
      task: { id: string };
      mcp: { token: string };
      integrations: Array<{ name: string; url: string; token: string }>;
    };
  };

  let policyDir = '';
  beforeAll(async () => {
    // maxInFlight above the 50 calls at once: every one of them must reach the budget guard.
    policyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-budget-attacks-'));
    fs.writeFileSync(
      path.join(policyDir, 'policy.yaml'),
      `apiVersion: switchboard/policy/v1
integrations:
  echo: { enabled: true }
tokens: { defaultTtl: 15m, maxTtl: 2h, maxInFlight: 100 }
`,
    );
    gw = await startGatewayProcess({
      SWITCHBOARD_POLICY: path.join(policyDir, 'policy.yaml'),
      INTEGRATION_DIRS: `${REPO_ROOT}test/fixtures/integrations`,
    });
    for (let i = 0; i < 600; i++) {
      const { json } = await api('GET', '/integrations/echo');
      if ((json.integration as Json | undefined)?.state === 'ready' || json.state === 'ready')
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 120_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await gw?.cleanup();
    if (policyDir) fs.rmSync(policyDir, { recursive: true, force: true });
  });

  it('50 calls fired at once with a limit of 10: exactly 10 reach the upstream', async () => {
    const granted = await grant({ toolCalls: 10 });
    // Both endpoints of the task at once: the aggregate and the integration's own.
    const aggregate = await connect(granted.mcp.token);
    const own = granted.integrations.find((i) => i.name === 'echo')!;
    const direct = await connect(own.token, new URL(own.url).pathname);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        i % 2 === 0
          ? aggregate.callTool({ name: 'echo__sleep', arguments: { ms: 5 } })
          : direct.callTool({ name: 'sleep', arguments: { ms: 5 } }),
      ),
    );
    const passed = results.filter((r) => r.isError !== true);
    expect(passed).toHaveLength(10);
    for (const r of passed) expect(r.content).toEqual([{ type: 'text', text: 'slept 5' }]);
    const refused = results.filter((r) => r.isError === true);
    expect(refused).toHaveLength(40);
    for (const r of refused) {
      expect(r.content).toEqual([
        { type: 'text', text: "budget: 10 tool calls used of 10 (the task's grant)" },
      ]);
    }
    const view = await api('GET', `/tasks/${granted.task.id}`);
    expect(view.json.budget).toMatchObject({ calls: 10, exceeded: ['toolCalls'] });
  }, 120_000);

  it('the agent’s tokens reach no budget: not the API (401), no MCP tool, and a refused task stays refused', async () => {
    const granted = await grant({ toolCalls: 2 });
    const id = granted.task.id;
    const agent = await connect(granted.mcp.token);
    for (let i = 0; i < 3; i++) await agent.callTool({ name: 'echo__sleep', arguments: { ms: 0 } });
    for (const token of [granted.mcp.token, ...granted.integrations.map((i) => i.token)]) {
      // Widening by granting itself a new task, or reading/ending its own: not with a task token.
      const asAgent = [
        await api('POST', '/tasks', { external: true, scope: ['echo:*'] }, token),
        await api('GET', `/tasks/${id}`, undefined, token),
        await api('POST', `/tasks/${id}/config`, { format: 'json' }, token),
      ];
      for (const answer of asAgent) expect(answer.status).toBe(401);
    }
    // No tool of any endpoint it can reach touches budgets.
    const tools = await agent.listTools();
    expect(tools.tools.map((t) => t.name).filter((n) => /budget/i.test(n))).toEqual([]);
    // Arguments naming the budget do nothing: the count is the gateway's, in its database.
    const again = await agent.callTool({
      name: 'echo__sleep',
      arguments: { ms: 0, budget: { toolCalls: 1000 }, _meta: { reset: true } },
    });
    expect(again.isError).toBe(true);
    const view = await api('GET', `/tasks/${id}`);
    expect(view.json.budget).toMatchObject({ limits: { toolCalls: 2 }, calls: 2 });
  }, 120_000);

  it('a grant cannot widen a profile’s budget: a queued task takes no budget of its own', async () => {
    const queued = await api('POST', '/tasks', {
      profile: 'anything',
      prompt: 'x',
      budget: { toolCalls: 1_000_000 },
    });
    expect(queued.status).toBe(400);
    expect(JSON.stringify(queued.json)).toContain('budget');
    // Past the bounds a budget itself has: a million calls, 100 patterns.
    const huge = await api('POST', '/tasks', {
      external: true,
      scope: ['echo:*'],
      budget: {
        toolCalls: 1_000_001,
        perTool: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`echo:t${i}`, 1])),
      },
    });
    expect(huge.status).toBe(400);
    const text = JSON.stringify(huge.json);
    expect(text).toContain('expected a whole number of calls from 0 to 1000000');
    expect(text).toContain('expected at most 100 tool patterns');
  });
});

describe('budgets in the database: two replicas, bounded rows', () => {
  const database = useMigratedDatabase();
  const log = createLogger('silent');
  const policy = policySchema.parse({
    apiVersion: 'switchboard/policy/v1',
    profiles: {
      triage: {
        runner: { driver: 'process', command: 'true' },
        tools: ['*:*'],
        budget: { toolCalls: 10, perTool: { 'echo:sleep': 4 } },
      },
    },
  });
  let replicas: ToolCallGuard[] = [];

  beforeAll(() => {
    const registry = { currentPolicy: () => policy };
    // Two guards with their own memory, as two gateway processes have: only the rows are shared.
    replicas = [0, 1].map(() =>
      createBudgetGuard({ sql: database().sql, log, registry, bus: new InProcessBus() }),
    );
  });

  const newTask = async () => {
    const { task } = await createExternalTask(database().sql, {
      scope: ['*:*'],
      prompt: '',
      sessionId: null,
    });
    return task.id;
  };
  const call = (taskId: string, profile: string | null, tool = 'sleep'): GuardedCall => ({
    claims: {
      tokenId: `t-${taskId}`,
      taskId,
      sessionId: null,
      profile,
      scope: ['*:*'],
      audience: 'http://gateway/mcp',
      expiresAt: Math.floor(Date.now() / 1000) + 900,
    },
    integration: 'echo',
    tool,
    definition: { name: tool, inputSchema: { type: 'object' } },
    arguments: {},
    signal: new AbortController().signal,
    progress: () => {},
  });

  it('two replicas’ guards share one count: 50 at once across both, exactly 10 pass, one event per limit', async () => {
    const taskId = await newTask();
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        replicas[i % 2]!.before!(call(taskId, 'triage', i % 3 === 0 ? 'sleep' : 'report_env')),
      ),
    );
    const passed = outcomes.filter((o) => o === undefined);
    expect(passed).toHaveLength(10);
    const sql = database().sql;
    const [row] = await sql<
      Array<{ calls: number; per_tool: Record<string, number>; exceeded: string[] }>
    >`select calls, per_tool, exceeded from task_budgets where task_id = ${taskId}`;
    if (!row) throw new Error('no task_budgets row');
    expect(row.calls).toBe(10);
    expect(row.per_tool['echo:sleep']).toBeLessThanOrEqual(4);
    const events = await sql`
      select data from task_events where task_id = ${taskId} and type = 'task:budget_exceeded'`;
    const limits = events.map((e) => (e.data as Json).limit).sort();
    expect(limits).toEqual([...new Set(limits)]);
    expect(limits).toContain('toolCalls');
    expect(limits.length).toBe(row.exceeded.length);
  });

  it('one row per task however many calls, removed with its task; tasks without a budget have none', async () => {
    const sql = database().sql;
    const budgeted = await newTask();
    for (let i = 0; i < 30; i++) await replicas[i % 2]!.before!(call(budgeted, 'triage'));
    // A profile without a budget, and an external task without one: no row, no statement.
    const free = await newTask();
    const unbudgeted = await newTask();
    for (let i = 0; i < 30; i++) {
      expect(await replicas[0]!.before!(call(free, 'no-such-profile'))).toBeUndefined();
      expect(await replicas[1]!.before!(call(unbudgeted, null))).toBeUndefined();
    }
    const rows = await sql`
      select task_id::text as id, count(*)::int as n from task_budgets
       where task_id in (${budgeted}, ${free}, ${unbudgeted}) group by task_id`;
    expect(rows).toEqual([{ id: budgeted, n: 1 }]);
    await sql`delete from tasks where id = ${budgeted}`;
    const [left] =
      await sql`select count(*)::int as n from task_budgets where task_id = ${budgeted}`;
    expect(left?.n).toBe(0);
  });

  it('a grant’s budget is read once per replica and never changes under a running task', async () => {
    const sql = database().sql;
    const taskId = await newTask();
    await insertGrantBudget(sql, taskId, { toolCalls: 3 });
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await replicas[i % 2]!.before!(call(taskId, null)));
    expect(results.map((r) => r === undefined)).toEqual([true, true, true, false, false]);
    expect(results[3]).toEqual({
      code: 'budget_exceeded',
      message: "budget: 3 tool calls used of 3 (the task's grant)",
    });
  });
});
