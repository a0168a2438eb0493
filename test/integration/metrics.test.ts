/**
 * Issue 17 part 4, the Prometheus metrics (docs/metrics.md) through a real gateway on both
 * databases: signed webhooks creating tasks, refused and duplicate webhooks, token refusals by
 * reason, tool calls, a call held for approval and denied, a budget refusal, an upstream that
 * crashes and is restarted, the integrations' states, and the queue gauges over 30 pending rows
 * of each queue. Then the Grafana dashboard and the alert rules: every metric their PromQL
 * names must be one this gateway exposes, so renaming a metric breaks this test.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { testDatabaseServer } from '../helpers/database.ts';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';
import { startGatewayProcess } from '../helpers/gateway-process.ts';
import { eventually, grantTask, integrationOf, post, toolCall } from '../helpers/mcp-gateway.ts';
import { familyNames, scrape, value } from '../helpers/metrics.ts';
import { promqlMetricNames } from '../helpers/promql.ts';
import { startTcpProxy, viaProxy } from '../helpers/tcp-proxy.ts';
import { githubHeaders } from '../helpers/webhooks.ts';

// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; the API validates them
type Json = Record<string, any>;

const GITHUB_SECRET = 'test-github-secret';
const DIRS = ['test/fixtures/webhooks', 'test/fixtures/integrations'].map((d) =>
  path.join(REPO_ROOT, d),
);
/** The webhook fixture's policy, plus echo with an approval rule on its `sleep` tool. */
const POLICY = `apiVersion: switchboard/policy/v1
integrations:
  hooks:
    enabled: true
    grants: [webhooks, sessions.write]
    webhooks: { unsigned: true }
    profile: held
    settings:
      STANDARD_SECRET: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
      GITHUB_SECRET: ${GITHUB_SECRET}
      SLACK_SECRET: test-slack-secret
  echo: { enabled: true }
tokens: { defaultTtl: 15m, maxTtl: 2h }
approvals:
  - { name: review-sleep, tools: ["echo:sleep"], message: someone looks first }
profiles:
  held:
    runner: { driver: process, command: "true", args: ["{held_for_the_metrics_tests}"] }
    tools: ["hooks:*"]
`;
const policyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-metrics-'));
const policyFile = path.join(policyDir, 'policy.yaml');
fs.writeFileSync(policyFile, POLICY);
afterAll(() => fs.rmSync(policyDir, { recursive: true, force: true }));

describe('/metrics (issue 17)', () => {
  const gw = useTestGateway({ INTEGRATION_DIRS: DIRS.join(':'), SWITCHBOARD_POLICY: policyFile });
  const api = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${gw().url}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Json };
  };
  const hook = (endpoint: string, body: string, headers: Record<string, string>) =>
    fetch(`${gw().url}/hooks/${endpoint}`, { method: 'POST', headers, body });
  const metrics = () => scrape(gw().url);

  beforeAll(async () => {
    await eventually(async () => {
      expect(gw().registry.get('echo')?.state).toBe('ready');
      expect(gw().registry.get('hooks')?.state).toBe('ready');
    }, 60_000);
  });

  it('counts webhooks accepted, duplicate and refused (by error code), an unknown integration as unknown', async () => {
    const ids: string[] = [];
    for (let n = 1; n <= 30; n++) {
      const id = randomUUID();
      ids.push(id);
      const body = JSON.stringify({
        triggers: [
          {
            session: { key: `hooks:metrics-${n}`, dispatch: { type: 'none' } },
            message: `#${n}`,
            run: true,
          },
        ],
      });
      const res = await hook('hooks/github', body, githubHeaders(GITHUB_SECRET, body, id));
      expect(res.status).toBe(202);
    }
    const again = JSON.stringify({ triggers: [] });
    const first = randomUUID();
    expect(
      (await hook('hooks/github', again, githubHeaders(GITHUB_SECRET, again, first))).status,
    ).toBe(202);
    expect(
      (await hook('hooks/github', again, githubHeaders(GITHUB_SECRET, again, first))).status,
    ).toBe(200);
    const forged = await hook(
      'hooks/github',
      again,
      githubHeaders('not-the-secret', again, randomUUID()),
    );
    expect(forged.status).toBe(401);
    const unknown = await hook(`nope-${randomUUID().slice(0, 8)}/x`, again, {
      'content-type': 'application/json',
    });
    expect(unknown.status).toBe(404);

    const text = await metrics();
    const hooks = (outcome: string, reason: string, integration = 'hooks') =>
      value(text, 'switchboard_webhook_requests_total', { integration, outcome, reason });
    expect(hooks('accepted', 'none')).toBe(31);
    expect(hooks('duplicate', 'none')).toBe(1);
    expect(hooks('refused', 'signature_invalid')).toBe(1);
    expect(hooks('refused', 'webhook_unknown', 'unknown')).toBe(1);
    expect(text).not.toMatch(/integration="nope-/);

    // The 30 deliveries become 30 tasks, pending (the profile's runner is held).
    await eventually(async () => {
      const [row] = await gw().sql<{ n: number }[]>`
        select count(*)::int as n from tasks t join webhook_deliveries d on d.id = t.delivery_id
         where d.delivery_id = any(${ids})`;
      const states = await gw().sql<{ status: string; error: string | null; n: number }[]>`
        select status, error, count(*)::int as n from webhook_deliveries
         where delivery_id = any(${ids}) group by status, error`;
      expect(row!.n, JSON.stringify(states)).toBe(30);
    }, 30_000);
  });

  it('shows queue depth, oldest pending age and dead letters of each queue (30 pending rows each)', async () => {
    const sql = gw().sql;
    // Not due for an hour, so no worker claims them while the test looks; received and created
    // 10 minutes ago, so the oldest pending age is at least 600 s.
    await sql`
      insert into webhook_deliveries (integration, endpoint, delivery_id, headers, body, run_at, received_at)
      select 'hooks', 'github', 'metrics-pending-' || g, '{}', '\\x7b7d', now() + interval '1 hour',
             now() - interval '10 minutes'
        from generate_series(1, 30) g`;
    await sql`
      insert into webhook_deliveries (integration, endpoint, delivery_id, headers, body, status, error)
      select 'hooks', 'github', 'metrics-failed-' || g, '{}', '\\x7b7d', 'failed', 'handler failed'
        from generate_series(1, 3) g`;
    await sql`
      insert into outbox (kind, target, payload, next_attempt_at, created_at)
      select 'dispatch', '{"type":"none"}', '{}', now() + interval '1 hour', now() - interval '10 minutes'
        from generate_series(1, 30) g`;
    await sql`
      insert into outbox (kind, target, payload, status, attempts, dead_at, last_error)
      select 'dispatch', '{"type":"none"}', '{}', 'dead', 10, now(), 'HTTP 500'
        from generate_series(1, 2) g`;
    const counts = async () => {
      const [row] = await sql<{ deliveries: number; outbox: number; tasks: number }[]>`
        select (select count(*)::int from webhook_deliveries where status = 'pending') as deliveries,
               (select count(*)::int from outbox where status = 'pending') as outbox,
               (select count(*)::int from tasks where status = 'pending') as tasks`;
      return row!;
    };
    // The gauges are cached for 5 s (scrape-metrics.ts): polled until a read after the inserts.
    const text = await eventually(async () => {
      const t = await metrics();
      expect(value(t, 'switchboard_queue_items', { queue: 'outbox', status: 'pending' })).toBe(30);
      return t;
    }, 20_000);
    const expected = await counts();
    expect(expected).toEqual({ deliveries: 30, outbox: 30, tasks: 30 });
    const items = (queue: string, status: string) =>
      value(text, 'switchboard_queue_items', { queue, status });
    expect(items('webhook_deliveries', 'pending')).toBe(30);
    expect(items('webhook_deliveries', 'processing')).toBe(0);
    expect(items('tasks', 'pending')).toBe(30);
    expect(items('tasks', 'running')).toBe(0);
    expect(items('outbox', 'processing')).toBe(0);
    const age = (queue: string) =>
      value(text, 'switchboard_queue_oldest_pending_age_seconds', { queue });
    expect(age('webhook_deliveries')).toBeGreaterThanOrEqual(600);
    expect(age('outbox')).toBeGreaterThanOrEqual(600);
    expect(age('tasks')).toBeGreaterThan(0);
    expect(value(text, 'switchboard_dead_letters', { queue: 'outbox' })).toBe(2);
    expect(value(text, 'switchboard_dead_letters', { queue: 'webhook_deliveries' })).toBe(3);
    expect(value(text, 'switchboard_queue_stats_up')).toBe(1);
    expect(value(text, 'switchboard_queue_stats_errors_total')).toBe(0);
  });

  it('counts token verifications: accepted, and refused by reason (missing, malformed, wrong audience, revoked)', async () => {
    const granted = await grantTask(gw(), ['echo:*']);
    const echo = integrationOf(granted, 'echo');
    const list = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} };
    const before = await metrics();
    const count = (text: string, outcome: string, reason: string) =>
      value(text, 'switchboard_token_verifications_total', { outcome, reason }) ?? 0;

    expect((await post(echo.url, echo.token, list)).status).toBe(200);
    expect((await post(echo.url, '', list)).status).toBe(401);
    expect((await post(echo.url, 'garbage.garbage.garbage', list)).status).toBe(401);
    // The /mcp token on /mcp/echo: issued for another endpoint.
    expect((await post(echo.url, granted.mcp.token, list)).status).toBe(401);
    expect((await api('POST', `/tasks/${granted.task.id}/cancel`, {})).status).toBe(200);
    await eventually(async () => expect((await post(echo.url, echo.token, list)).status).toBe(401));

    const after = await metrics();
    const delta = (outcome: string, reason: string) =>
      count(after, outcome, reason) - count(before, outcome, reason);
    expect(delta('accepted', 'none')).toBe(1);
    expect(delta('refused', 'missing')).toBe(1);
    expect(delta('refused', 'malformed')).toBe(1);
    expect(delta('refused', 'wrong_audience')).toBe(1);
    expect(delta('refused', 'revoked')).toBeGreaterThanOrEqual(1);
  });

  it('counts tool calls, a call held for approval and denied, a budget refusal, by integration', async () => {
    const granted = await grantTask(gw(), ['echo:*']);
    const echo = integrationOf(granted, 'echo');
    const ok = await post(echo.url, echo.token, toolCall(1, 'report_env'));
    expect(ok.status).toBe(200);
    const held = post(echo.url, echo.token, toolCall(2, 'sleep', { ms: 1 }));
    const request = await eventually(async () => {
      const { json } = await api('GET', `/approvals?status=pending&task=${granted.task.id}`);
      expect(json.approvals).toHaveLength(1);
      return json.approvals[0] as Json;
    });
    expect((await api('POST', `/approvals/${request.id}/deny`, { reason: 'not now' })).status).toBe(
      200,
    );
    expect(await (await held).text()).toContain('denied by');

    const budgeted = await api('POST', '/tasks', {
      external: true,
      scope: ['echo:*'],
      budget: { toolCalls: 1 },
    });
    expect(budgeted.status, JSON.stringify(budgeted.json)).toBe(201);
    const small = integrationOf(budgeted.json as never, 'echo');
    for (const id of [1, 2])
      await (await post(small.url, small.token, toolCall(id, 'report_env'))).text();

    const text = await metrics();
    expect(
      value(text, 'switchboard_tool_calls_total', {
        integration: 'echo',
        tool: 'report_env',
        outcome: 'ok',
      }),
    ).toBe(2);
    expect(
      value(text, 'switchboard_tool_call_duration_seconds_count', { integration: 'echo' }),
    ).toBeGreaterThanOrEqual(3);
    expect(value(text, 'switchboard_approval_requests_total', { integration: 'echo' })).toBe(1);
    expect(
      value(text, 'switchboard_approval_decisions_total', {
        integration: 'echo',
        decision: 'denied',
      }),
    ).toBe(1);
    const refusals = (guard: string, code: string) =>
      value(text, 'switchboard_guard_refusals_total', { guard, integration: 'echo', code });
    expect(refusals('approvals', 'approval_denied')).toBe(1);
    expect(refusals('budgets', 'budget_exceeded')).toBe(1);
  });

  it('shows each integration state and counts an upstream restarted after it crashed', async () => {
    let text = await metrics();
    const state = (integration: string, s: string) =>
      value(text, 'switchboard_integration_state', { integration, state: s });
    expect(state('echo', 'ready')).toBe(1);
    expect(state('echo', 'failed')).toBe(0);
    expect(state('hooks', 'ready')).toBe(1);
    // Not in the policy: refused, with one series per state all the same.
    expect(state('broken', 'refused')).toBe(1);
    expect(state('broken', 'ready')).toBe(0);
    expect(
      value(text, 'switchboard_upstream_restarts_total', { integration: 'echo' }),
    ).toBeUndefined();

    const granted = await grantTask(gw(), ['echo:*']);
    const echo = integrationOf(granted, 'echo');
    await (await post(echo.url, echo.token, toolCall(1, 'crash', { ms: 0 }))).text();
    // The supervisor restarts it after its backoff (100 ms first).
    text = await eventually(async () => {
      const t = await metrics();
      expect(value(t, 'switchboard_upstream_restarts_total', { integration: 'echo' })).toBe(1);
      return t;
    }, 20_000);
  });

  it('every metric the Grafana dashboard and the alert rules use is one the gateway exposes', async () => {
    const exposed = familyNames(await metrics());
    const dashboard = JSON.parse(
      fs.readFileSync(path.join(REPO_ROOT, 'deploy/observability/grafana-dashboard.json'), 'utf8'),
    ) as Json;
    const exprs: string[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) {
          if ((k === 'expr' || k === 'query') && typeof v === 'string') exprs.push(v);
          else walk(v);
        }
      }
    };
    walk(dashboard.panels);
    const panelExprs = exprs.length;
    expect(panelExprs).toBeGreaterThanOrEqual(12);
    // The variables' label_values(<metric>, <label>): the metric is the first argument.
    for (const variable of dashboard.templating.list as Json[]) {
      if (variable.type !== 'query') continue;
      const metric = /^label_values\(([A-Za-z_:][\w:]*)/.exec(variable.query as string)?.[1];
      expect(metric, variable.name).toBeDefined();
      exprs.push(metric!);
    }
    const rules = parseYaml(
      fs.readFileSync(path.join(REPO_ROOT, 'deploy/observability/prometheus-alerts.yaml'), 'utf8'),
    ) as { groups: Array<{ name: string; rules: Array<{ alert: string; expr: string }> }> };
    for (const group of rules.groups) for (const rule of group.rules) exprs.push(rule.expr);
    expect(exprs.length - panelExprs).toBeGreaterThanOrEqual(6);

    const used = new Set(exprs.flatMap((e) => promqlMetricNames(e)));
    // `up` is Prometheus' own series for each scrape target, not the gateway's.
    used.delete('up');
    expect(used.size).toBeGreaterThanOrEqual(12);
    const missing = [...used].filter((name) => !exposed.has(name)).sort();
    expect(missing).toEqual([]);
  });
});

describe('queue metrics while the database is unreachable', () => {
  it('a scrape still answers, with the last values, switchboard_queue_stats_up 0 and the errors counted', async () => {
    // A real `switchboard start`: a connection reset mid-query can surface from postgres.js as an
    // unhandled rejection (its array-types query on a new connection), which the gateway process
    // logs and survives (process-errors.ts) but which fails a test run in-process.
    const server = await testDatabaseServer();
    const target = new URL(server.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    const gateway = await startGatewayProcess({ DATABASE_URL: viaProxy(server.url, proxy.port) });
    const sql = postgres(server.url, { max: 1, onnotice: () => {} });
    try {
      await sql`
        insert into outbox (kind, target, payload, status, attempts, dead_at, last_error)
        select 'dispatch', '{"type":"none"}', '{}', 'dead', 10, now(), 'HTTP 500'
          from generate_series(1, 26) g`;
      const up = await scrape(gateway.url);
      expect(value(up, 'switchboard_dead_letters', { queue: 'outbox' })).toBe(26);
      expect(value(up, 'switchboard_queue_stats_up')).toBe(1);
      await proxy.cut();
      // Past the 5 s cache, the next scrape tries the database, fails, and says so.
      const down = await eventually(async () => {
        const text = await scrape(gateway.url);
        expect(value(text, 'switchboard_queue_stats_up')).toBe(0);
        return text;
      }, 30_000);
      expect(value(down, 'switchboard_dead_letters', { queue: 'outbox' })).toBe(26);
      expect(value(down, 'switchboard_queue_stats_errors_total')).toBeGreaterThanOrEqual(1);
      expect(value(down, 'switchboard_queue_stats_age_seconds')).toBeGreaterThan(0);
      await proxy.restore();
      await eventually(async () => {
        expect(value(await scrape(gateway.url), 'switchboard_queue_stats_up')).toBe(1);
      }, 30_000);
      expect(gateway.child.exitCode).toBeNull();
    } finally {
      await sql.end();
      await gateway.cleanup();
      await proxy.close();
      await server.cleanup();
    }
  });
});
