import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../gateway/src/cli/main.ts';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';

// GET /api/v1/overview (issue 16): counts, queue ages, dead letters and recent failures, each
// section only for a key holding its read scope; and GET /api/v1/integrations/:name's webhook
// URLs and schedules with their next fire time.
// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; the API validates them
type Json = Record<string, any>;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-overview-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
fs.mkdirSync(path.join(tmp, 'timer'));
fs.writeFileSync(
  path.join(tmp, 'timer/switchboard.yaml'),
  `apiVersion: switchboard/v1
name: timer
version: 1.0.0
description: a webhook and a schedule on the fixture server
server:
  transport: stdio
  command: node
  args: ["--import", ${JSON.stringify(import.meta.resolve('tsx'))}, ${JSON.stringify(path.join(REPO_ROOT, 'test/fixtures/upstreams/stdio-server.ts'))}]
settings:
  - { key: HOOK_SECRET, secret: true, required: true, description: "the sender's signing secret" }
webhooks:
  - { name: events, verify: { scheme: github, secret: HOOK_SECRET }, handler: shout }
schedules:
  - { name: nightly, cron: "30 4 * * *", handler: sleep }
tools:
  hidden: [shout, sleep]
capabilities: [webhooks, schedules]
`,
);

fs.writeFileSync(
  path.join(tmp, 'policy.yaml'),
  `apiVersion: switchboard/policy/v1
integrations:
  timer: { enabled: true, grants: [webhooks, schedules] }
`,
);

describe('GET /api/v1/overview', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: tmp,
    SWITCHBOARD_POLICY: path.join(tmp, 'policy.yaml'),
    SWITCHBOARD_SETTING_TIMER__HOOK_SECRET: 'hook-secret-value',
  });
  const call = async (route: string, key = ADMIN_KEY, method = 'GET', body?: unknown) => {
    const res = await fetch(`${gw().url}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Json };
  };

  it('counts queues, their oldest pending item and dead letters, with the newest failures', async () => {
    const { sql } = gw();
    const empty = await call('/overview');
    expect(empty.status, JSON.stringify(empty.json)).toBe(200);
    expect(empty.json.tasks).toMatchObject({ pending: 0, running: 0, oldestPendingAt: null });
    expect(empty.json.outbox).toMatchObject({ pending: 0, dead: 0, recentDead: [] });

    // Not claimable for an hour, so no worker takes them while the test looks.
    await sql`insert into tasks (status, prompt, run_at, created_at)
              values ('pending', 'old', now() + interval '1 hour', now() - interval '10 minutes'),
                     ('pending', 'new', now() + interval '1 hour', now())`;
    await sql`insert into tasks (status, prompt, error, finished_at)
              values ('failed', 'x', 'the agent exited 1', now() - interval '1 minute'),
                     ('failed', 'y', 'long ago', now() - interval '3 days')`;
    await sql`insert into webhook_deliveries
                (integration, endpoint, delivery_id, headers, body, status, error, run_at)
              values ('timer', 'events', 'd-1', '{}', '\\x7b7d', 'failed', 'handler said no', now()),
                     ('timer', 'events', 'd-2', '{}', '\\x7b7d', 'pending', null,
                      now() + interval '1 hour')`;
    await sql`insert into outbox (kind, target, payload, status, attempts, dead_at, last_error)
              values ('dispatch', '{"type":"webhook"}', '{}', 'dead', 10, now(), 'HTTP 500')`;
    // Not due for an hour, so no outbox worker tries (and buries) it while the test looks.
    await sql`insert into outbox (kind, target, payload, status, next_attempt_at)
              values ('dispatch', '{"type":"webhook"}', '{}', 'pending', now() + interval '1 hour')`;

    const { json } = await call('/overview');
    expect(json.integrations).toEqual({
      counts: { ready: 1 },
      items: [{ name: 'timer', state: 'ready', reasons: 0, changed: false }],
    });
    expect(json.tasks).toMatchObject({ pending: 2, running: 0, failedLastDay: 1 });
    expect(Date.now() - Date.parse(json.tasks.oldestPendingAt)).toBeGreaterThan(9 * 60_000);
    expect(json.tasks.recentFailures.map((t: Json) => t.error)).toEqual([
      'the agent exited 1',
      'long ago',
    ]);
    expect(json.deliveries).toMatchObject({ pending: 1, processing: 0, failed: 1 });
    expect(json.deliveries.recentFailures).toEqual([
      expect.objectContaining({
        integration: 'timer',
        endpoint: 'events',
        error: 'handler said no',
      }),
    ]);
    expect(json.deliveries.oldestPendingAt).toEqual(expect.any(String));
    expect(json.outbox).toMatchObject({ pending: 1, dead: 1 });
    expect(json.outbox.recentDead[0]).toMatchObject({ kind: 'dispatch', lastError: 'HTTP 500' });
  });

  it('lists only the five newest failures of a long queue, and still counts them all', async () => {
    const { sql } = gw();
    const before = (await call('/overview')).json;
    await sql`insert into webhook_deliveries
                (integration, endpoint, delivery_id, headers, body, status, error, received_at)
              select 'timer', 'events', 'bulk-' || n, '{}', '\\x7b7d', 'failed', 'error ' || n,
                     now() + make_interval(secs => n)
                from generate_series(1, 30) as n`;
    await sql`insert into outbox (kind, target, payload, status, attempts, dead_at, last_error)
              select 'event', '{"type":"webhook"}', '{}', 'dead', 10,
                     now() + make_interval(secs => n), 'HTTP ' || (500 + n)
                from generate_series(1, 30) as n`;
    const { json } = await call('/overview');
    expect(json.deliveries.failed).toBe(before.deliveries.failed + 30);
    expect(json.deliveries.recentFailures.map((d: Json) => d.error)).toEqual([
      'error 30',
      'error 29',
      'error 28',
      'error 27',
      'error 26',
    ]);
    expect(json.outbox.dead).toBe(before.outbox.dead + 30);
    expect(json.outbox.recentDead.map((o: Json) => o.lastError)).toEqual([
      'HTTP 530',
      'HTTP 529',
      'HTTP 528',
      'HTTP 527',
      'HTTP 526',
    ]);
  });

  it("answers only the sections the key's scopes allow", async () => {
    const created = await call('/keys', ADMIN_KEY, 'POST', {
      name: 'tasks-only',
      scopes: ['tasks:read'],
    });
    expect(created.status).toBe(201);
    const { status, json } = await call('/overview', created.json.key);
    expect(status).toBe(200);
    expect(Object.keys(json)).toEqual(['tasks']);
    const none = await call('/keys', ADMIN_KEY, 'POST', { name: 'none', scopes: ['keys:read'] });
    expect((await call('/overview', none.json.key)).json).toEqual({});
  });

  it("an integration's page lists its webhook URLs and schedules with the next fire", async () => {
    const { json } = await call('/integrations/timer');
    expect(json.integration.webhooks).toEqual([
      {
        name: 'events',
        url: `${gw().url}/hooks/timer/events`,
        scheme: 'github',
        secretSetting: 'HOOK_SECRET',
        mode: 'async',
      },
    ]);
    const [nightly] = json.integration.schedules;
    expect(nightly).toMatchObject({ name: 'nightly', cron: '30 4 * * *', armed: true });
    const next = new Date(nightly.nextFireAt);
    expect([next.getUTCHours(), next.getUTCMinutes(), next.getUTCSeconds()]).toEqual([4, 30, 0]);
    expect(next.getTime() - Date.now()).toBeGreaterThan(0);
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(86_400_000);
    expect(json.integration.settings).toEqual([
      {
        key: 'HOOK_SECRET',
        secret: true,
        required: true,
        source: 'environment',
        value: '******',
        description: "the sender's signing secret",
      },
    ]);
    expect(JSON.stringify(json)).not.toContain('hook-secret-value');
  });

  it('the list and `integrations list`/`show` carry the webhook URLs, schemes and next fires', async () => {
    const { json } = await call('/integrations');
    const timer = json.integrations.find((i: Json) => i.name === 'timer');
    expect(timer.webhooks).toEqual([
      {
        name: 'events',
        url: `${gw().url}/hooks/timer/events`,
        scheme: 'github',
        secretSetting: 'HOOK_SECRET',
        mode: 'async',
      },
    ]);
    expect(timer.schedules[0].nextFireAt).toMatch(/T04:30:00\.000Z$/);
    for (const args of [['list'], ['show', 'timer']]) {
      const out: string[] = [];
      const code = await runCli(['integrations', ...args], {
        env: { SWITCHBOARD_URL: gw().url, SWITCHBOARD_API_KEY: ADMIN_KEY },
        out: (text) => out.push(text),
        err: (text) => out.push(text),
      });
      const text = out.join('\n');
      expect(code, text).toBe(0);
      expect(text).toMatch(
        new RegExp(
          `timer +events +github \\(HOOK_SECRET\\) +async +${gw().url}/hooks/timer/events`,
        ),
      );
      expect(text).toMatch(/timer +nightly +30 4 \* \* \* +\d{4}-\d\d-\d\dT04:30:00\.000Z/);
      if (args[0] === 'show') expect(text).toMatch(/HOOK_SECRET +\*{6} +environment +yes/);
      expect(text).not.toContain('hook-secret-value');
    }
  });
});
