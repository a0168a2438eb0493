/**
 * Issue 17 part 3, `switchboard trace` and GET /api/v1/trace/…, on a chain driven through the
 * real gateway: one webhook delivery to the `hooks` test integration, whose handler answers three
 * triggers; the reference agent runs each task with its JSON plan through /mcp to the example
 * `fixture` integration; the tasks' ends write their dispatch rows and the gateway's outbox
 * worker posts them:
 *   A: 30 tool calls (seq past 9, order checked), result posted to a receiver that answers 500
 *      once, then 204 (retried after the worker's 5 s backoff, then delivered);
 *   B: no calls, result posted to a loopback port the policy does not list: dead at once;
 *   C: a tool call that fails (fixture's test_error_handling): the agent stops, the task fails.
 * Then a task with 1,005 recorded tool calls (the real insert of the ToolEventSink) for the cap.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertTaskEvents, insertToolUseEvents } from '../../gateway/src/events/store.ts';
import { TRACE_LIMITS } from '../../gateway/src/trace/trace.ts';
import {
  ADMIN_KEY,
  REFERENCE_AGENT_RUNNER,
  REPO_ROOT,
  runSwitchboard,
  useTestGateway,
} from '../helpers/gateway.ts';

// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; the API validates them
type Json = Record<string, any>;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-trace-test-'));
const policyFile = path.join(tmp, 'policy.yaml');
const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/webhooks');
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/** Answers 500 to its first POST and 204 to the rest. */
async function startFlakyReceiver() {
  let posts = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(++posts === 1 ? 500 : 204).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    posts: () => posts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('trace of a delivery and its tasks (issue 17)', () => {
  let flaky: Awaited<ReturnType<typeof startFlakyReceiver>>;
  beforeAll(async () => {
    flaky = await startFlakyReceiver();
    fs.writeFileSync(
      policyFile,
      `apiVersion: switchboard/policy/v1
integrations:
  hooks:
    enabled: true
    grants: [webhooks, sessions.write]
    webhooks: { unsigned: true }
    profile: scripted
    settings:
      STANDARD_SECRET: ${SECRET}
      GITHUB_SECRET: trace-github-secret
      SLACK_SECRET: trace-slack-secret
  fixture: { enabled: true }
dispatch:
  allowHosts: ["127.0.0.1:${flaky.port}"]
tokens: { defaultTtl: 15m, maxTtl: 2h }
profiles:
  scripted:
    runner: ${REFERENCE_AGENT_RUNNER}
    tools: ["fixture:*"]
    timeout: 2m
`,
    );
  });
  afterAll(async () => {
    await flaky?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const gw = useTestGateway({
    INTEGRATION_DIRS: `${FIXTURES}:${path.join(REPO_ROOT, 'servers')}`,
    SWITCHBOARD_POLICY: policyFile,
  });
  const api = async (route: string, key = ADMIN_KEY) => {
    const res = await fetch(`${gw().url}/api/v1${route}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    return { status: res.status, json: (await res.json()) as Json };
  };
  const cli = (...args: string[]) =>
    runSwitchboard(['trace', ...args], {
      SWITCHBOARD_URL: gw().url,
      SWITCHBOARD_API_KEY: ADMIN_KEY,
    });

  const trigger = (key: string, plan: Json, dispatch?: Json) => ({
    session: { key, ...(dispatch ? { dispatch } : {}) },
    message: JSON.stringify(plan),
  });
  const simple = { tool: 'fixture__test_simple_text', arguments: {} };
  let delivery: Json;
  let taskIds: string[];

  /** Polls the trace until `done` holds (the chain settles over about 5 s: one retry). */
  async function traceWhen(route: string, done: (root: Json) => boolean): Promise<Json> {
    const until = Date.now() + 60_000;
    for (;;) {
      const { status, json } = await api(route);
      expect(status, JSON.stringify(json)).toBe(200);
      if (done(json.trace.root)) return json.trace;
      if (Date.now() > until) throw new Error(`not settled: ${JSON.stringify(json, null, 1)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('a delivery: handler result, 3 tasks in order, 30 tool calls in seq order, a retried and a dead dispatch', async () => {
    const body = JSON.stringify({
      triggers: [
        trigger(
          'hooks:trace-a',
          { calls: Array.from({ length: 30 }, () => simple), result: 'a done' },
          { type: 'webhook', config: { url: `http://127.0.0.1:${flaky.port}/a`, secret: SECRET } },
        ),
        trigger(
          'hooks:trace-b',
          { calls: [], result: 'b done' },
          { type: 'webhook', config: { url: 'http://127.0.0.1:9/unlisted', secret: SECRET } },
        ),
        trigger('hooks:trace-c', {
          calls: [simple, { tool: 'fixture__test_error_handling', arguments: {} }],
          result: 'never',
        }),
      ],
    });
    const res = await fetch(`${gw().url}/hooks/hooks/open`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'trace-1' },
      body,
    });
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as { id: string };
    // The row's trace context, as a traced webhook request would have stored it (0013).
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await gw()
      .sql`update webhook_deliveries set trace_parent = ${`00-${traceId}-00f067aa0ba902b7-01`}
                    where id = ${accepted.id}`;

    const trace = await traceWhen(`/trace/deliveries/${accepted.id}`, (root) => {
      const [a, b, c] = root.children;
      const out = (t: Json | undefined) => t?.children.find((n: Json) => n.kind === 'outbox');
      return (
        root.children.length === 3 &&
        out(a)?.status === 'delivered' &&
        out(b)?.status === 'dead' &&
        c?.status === 'failed' &&
        a.children.filter((n: Json) => n.kind === 'tool_call').length === 30 &&
        c.children.filter((n: Json) => n.kind === 'tool_call').length === 2
      );
    });
    delivery = trace.root;
    expect(trace.focus).toEqual({ kind: 'delivery', id: accepted.id });
    expect(trace.limits).toMatchObject({ tasksPerDelivery: 200, toolCallsPerTask: 1000 });
    expect(delivery).toMatchObject({
      kind: 'delivery',
      id: accepted.id,
      status: 'done',
      running: false,
      error: null,
      traceId,
      details: {
        deliveryKind: 'webhook',
        integration: 'hooks',
        endpoint: 'open',
        deliveryId: 'trace-1',
        attempts: 1,
        handler: { triggers: 3, sessions: 3, messages: 3, tasks: 3 },
      },
    });
    const [row] = await gw().sql<{ received: Date; processed: Date; result: Json }[]>`
      select received_at as received, processed_at as processed, result
        from webhook_deliveries where id = ${accepted.id}`;
    expect(delivery.durationMs).toBe(row!.processed.getTime() - row!.received.getTime());
    // The tasks in the order the handler's triggers made them.
    taskIds = row!.result.tasks;
    expect(delivery.children.map((t: Json) => t.id)).toEqual(taskIds);
    const [a, b, c] = delivery.children as Json[];
    const tasks = await gw().sql<{ id: string; created: Date; finished: Date }[]>`
      select id::text, created_at as created, finished_at as finished from tasks
       where delivery_id = ${accepted.id}`;
    for (const t of [a!, b!, c!]) {
      const dbRow = tasks.find((r) => r.id === t.id)!;
      expect(t.durationMs).toBe(dbRow.finished.getTime() - dbRow.created.getTime());
      expect(t.details).toMatchObject({ profile: 'scripted', attempts: 1 });
      expect(Date.parse(t.startedAt)).toBeGreaterThanOrEqual(Date.parse(delivery.startedAt));
    }

    // A: started, then 30 calls in the order they were recorded (seq, numerically: 9 < 10).
    expect(a!.status).toBe('complete');
    expect(a!.children[0]).toMatchObject({
      kind: 'event',
      label: expect.stringMatching(/^attempt 1 started on /),
      status: 'started',
    });
    const calls = a!.children.filter((n: Json) => n.kind === 'tool_call');
    expect(calls.every((n: Json) => n.label === 'tool fixture.test_simple_text')).toBe(true);
    expect(calls.every((n: Json) => n.status === 'ok' && n.error === null)).toBe(true);
    const seqs = calls.map((n: Json) => BigInt(n.id));
    expect(seqs).toEqual([...seqs].sort((x, y) => (x < y ? -1 : 1)));
    const recorded = await gw().sql<{ seq: string; data: Json }[]>`
      select e.seq::text, e.data from task_events e
       where e.task_id = ${a!.id} and e.type = 'task:tool_use' order by e.seq`;
    expect(calls.map((n: Json) => n.id)).toEqual(recorded.map((e) => e.seq));
    expect(calls.map((n: Json) => n.durationMs)).toEqual(recorded.map((e) => e.data.durationMs));
    expect(calls.map((n: Json) => n.startedAt)).toEqual(recorded.map((e) => e.data.startedAt));
    // Children are in time order.
    const starts = a!.children.map((n: Json) => Date.parse(n.startedAt));
    expect(starts).toEqual([...starts].sort((x, y) => x - y));

    // A's dispatch: a 500, then delivered after the backoff; both attempts in its log.
    const outA = a!.children.find((n: Json) => n.kind === 'outbox');
    expect(outA).toMatchObject({
      label: expect.stringMatching(/^dispatch webhook \(outbox \d+\)$/),
      status: 'delivered',
      error: null,
      details: { outboxKind: 'dispatch', target: 'webhook', attempts: 2 },
    });
    expect(outA.children).toMatchObject([
      { kind: 'attempt', label: 'attempt 1 (HTTP 500)', status: 'error' },
      { kind: 'attempt', label: 'attempt 2 (HTTP 204)', status: 'ok', error: null },
    ]);
    expect(outA.children[0].error).toEqual(expect.stringContaining('500'));
    expect(flaky.posts()).toBe(2);
    expect(JSON.stringify(delivery)).not.toContain(SECRET);

    // B: dead at its first attempt, the refusal in full.
    const outB = b!.children.find((n: Json) => n.kind === 'outbox');
    expect(outB).toMatchObject({ status: 'dead', details: { attempts: 1 } });
    expect(outB.error).toMatch(/^ssrf_refused: refused http:\/\/127\.0\.0\.1:9\//);
    expect(outB.durationMs).toBeGreaterThanOrEqual(0);

    // C: the failing call, and the task failed with the agent's error.
    expect(c!.status).toBe('failed');
    expect(c!.error).toEqual(expect.any(String));
    const callsC = c!.children.filter((n: Json) => n.kind === 'tool_call');
    expect(callsC.map((n: Json) => [n.label, n.status])).toEqual([
      ['tool fixture.test_simple_text', 'ok'],
      ['tool fixture.test_error_handling', 'error'],
    ]);
  }, 90_000);

  it('a task: under the delivery that created it, alone; the same nodes as in the delivery trace', async () => {
    const [, b] = delivery.children as Json[];
    const { status, json } = await api(`/trace/tasks/${b!.id}`);
    expect(status).toBe(200);
    expect(json.trace.focus).toEqual({ kind: 'task', id: b!.id });
    expect(json.trace.root).toMatchObject({ kind: 'delivery', id: delivery.id });
    expect(json.trace.root.children).toEqual([b]);
  });

  it('404 for an unknown id, 400 for a malformed one', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const kind of ['tasks', 'deliveries']) {
      expect(await api(`/trace/${kind}/${unknown}`)).toMatchObject({
        status: 404,
        json: { error: { code: 'not_found' } },
      });
      expect(await api(`/trace/${kind}/42`)).toMatchObject({
        status: 400,
        json: {
          error: { code: 'invalid_request', issues: [expect.objectContaining({ path: 'id' })] },
        },
      });
    }
  });

  it('caps tool calls per task at 1,000 and says how many more there were', async () => {
    const granted = await fetch(`${gw().url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ external: true, scope: ['fixture:*'], ttl: '15m' }),
    });
    expect(granted.status).toBe(201);
    const taskId = ((await granted.json()) as Json).task.id as string;
    const n = TRACE_LIMITS.toolCallsPerTask + 5;
    const data = Array.from({ length: n }, (_, i) =>
      JSON.stringify({ integration: 'fixture', tool: `t${i}`, durationMs: 1, ok: true }),
    );
    await insertToolUseEvents(gw().sql, Array(n).fill(taskId), data);
    const { json } = await api(`/trace/tasks/${taskId}`);
    const root = json.trace.root;
    expect(root).toMatchObject({ kind: 'task', id: taskId, running: true, durationMs: null });
    const calls = root.children.filter((c: Json) => c.kind === 'tool_call');
    expect(calls).toHaveLength(TRACE_LIMITS.toolCallsPerTask);
    // The first ones, in order: t0 … t999.
    expect(calls[999].label).toBe('tool fixture.t999');
    expect(calls[0].details.approximateStart).toBe(true);
    expect(root.children.at(-1)).toMatchObject({
      kind: 'omitted',
      label: '5 more tool calls not shown (at most 1000)',
      details: { count: 5, cap: 1000 },
    });
  });

  it('approvals held from request to decision, budget refusals and requeues, when present', async () => {
    const granted = await fetch(`${gw().url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ external: true, scope: ['fixture:*'] }),
    });
    const taskId = ((await granted.json()) as Json).task.id as string;
    const approval = {
      id: 'ap-1',
      integration: 'fixture',
      tool: 'wipe',
      rule: 'ask',
      arguments: { q: 'kept-out' },
    };
    const [requested] = await insertTaskEvents(gw().sql, [
      { taskId, type: 'task:approval_requested', data: { approval } },
    ]);
    await new Promise((r) => setTimeout(r, 20));
    const [decided] = await insertTaskEvents(gw().sql, [
      {
        taskId,
        type: 'task:approval_decided',
        data: { approvalId: 'ap-1', status: 'denied', by: 'key:ops', reason: 'not today' },
      },
      {
        taskId,
        type: 'task:budget_exceeded',
        data: { limit: 'toolCalls', max: 5, used: 5, message: 'budget: 5 tool calls used' },
      },
      { taskId, type: 'task:requeued', data: { attempt: 1, error: 'the runner stopped' } },
    ]);
    const { json } = await api(`/trace/tasks/${taskId}`);
    const children = json.trace.root.children as Json[];
    expect(children.map((c) => [c.kind, c.label, c.status])).toEqual([
      ['approval', 'approval of fixture.wipe', 'denied'],
      ['event', 'budget exceeded: toolCalls', 'budget_exceeded'],
      ['event', 'attempt 1 requeued', 'requeued'],
    ]);
    expect(children[0]).toMatchObject({
      durationMs: decided!.createdAt.getTime() - requested!.createdAt.getTime(),
      details: { rule: 'ask', by: 'key:ops', reason: 'not today' },
    });
    expect(children[1]!.error).toBe('budget: 5 tool calls used');
    expect(children[2]!.error).toBe('the runner stopped');
    expect(JSON.stringify(json)).not.toContain('kept-out');
  });

  it('the CLI: the same chain as an indented tree with offsets and durations; --json; ids of both kinds', async () => {
    const [a, b] = delivery.children as Json[];
    const shown = await cli(delivery.id);
    expect(shown.stderr).toBe('');
    expect(shown.code).toBe(0);
    const lines = shown.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^ +\+0\.000s +\d+ms {2}delivery hooks webhook open \(trace-1\) done attempts 1\/\d+, handler: 3 trigger\(s\), 3 task\(s\)$/,
    );
    expect(lines[1]).toMatch(/trace 4bf92f3577b34da6a3ce929d0e0e4736$/);
    expect(lines[2]).toMatch(
      /^ +\+\d+\.\d{3}s +\S+ {4}task \S+ \(scripted\) complete attempts 1\/\d+/,
    );
    const toolLines = lines.filter((l) => l.includes('tool fixture.test_simple_text ok'));
    expect(toolLines).toHaveLength(31);
    expect(toolLines[0]).toMatch(
      /^ +\+\d+\.\d{3}s +\d+(\.\d)?m?s {6}tool fixture\.test_simple_text ok$/,
    );
    const attempt = lines.findIndex((l) => l.includes('attempt 1 (HTTP 500) error'));
    expect(attempt).toBeGreaterThan(0);
    expect(lines[attempt + 1]).toMatch(/^ +error: .*500/);
    expect(shown.stdout).toMatch(/dispatch webhook \(outbox \d+\) delivered attempts 2\/10/);
    expect(shown.stdout).toMatch(
      /dispatch webhook \(outbox \d+\) dead attempts 1\/10\n +error: ssrf_refused: /,
    );
    expect(shown.stdout).toContain('tool fixture.test_error_handling error');

    const asTask = await cli(b!.id);
    expect(asTask.code).toBe(0);
    expect(asTask.stdout).toContain(`task ${b!.id} (scripted) complete`);
    expect(asTask.stdout).not.toContain(a!.id);
    const json = await cli(a!.id, '--task', '--json');
    expect(JSON.parse(json.stdout)).toEqual((await api(`/trace/tasks/${a!.id}`)).json);
    const wrongKind = await cli(a!.id, '--delivery');
    expect(wrongKind.code).toBe(1);
    expect(wrongKind.stderr).toContain('404');
    const missing = await cli('00000000-0000-4000-8000-000000000000');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no task or delivery "00000000-0000-4000-8000-000000000000"');
  }, 30_000);
});
