/**
 * Issue 5's end-to-end test: a task created through the API runs the reference agent
 * (`switchboard agent`, gateway/src/agent) with the process runner; the agent calls the `github`
 * example's get_pr through /mcp (against a fake GitHub API), reports progress and completes
 * through the built-in /mcp/switchboard server; the task's event stream (SSE) shows each step
 * in order, and none of the task's tokens outlives it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ByName, byName } from '../helpers/by-name.ts';
import { type FakeGitHub, startFakeGitHub } from '../helpers/fake-github.ts';
import {
  ADMIN_KEY,
  REFERENCE_AGENT_RUNNER,
  REPO_ROOT,
  runSwitchboard,
  useTestGateway,
} from '../helpers/gateway.ts';
import { openSse } from '../helpers/sse.ts';

/** The fake GitHub by name through the egress proxy: set once it listens, before the gateway starts. */
let viaProxy: ByName;
const gatewayEnv: Record<string, string> = {};

const GITHUB_TOKEN = 'ghp_e2e_token_0123456789';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-e2e-'));
const policyFile = path.join(tmp, 'policy.yaml');

describe('a task through the API, run by the reference agent (issue 5 end to end)', () => {
  let github: FakeGitHub;
  // Before the gateway starts (hooks run in order): the policy needs the fake API's URL.
  beforeAll(async () => {
    github = await startFakeGitHub({
      token: GITHUB_TOKEN,
      pulls: {
        'acme/api': [{ number: 42, title: 'Add dark mode', body: 'A dark theme.', author: 'ada' }],
      },
    });
    // The fake API by name, through the egress proxy (issue 21; helpers/egress.ts).
    viaProxy = byName('api.github.com', github.url);
    gatewayEnv.SWITCHBOARD_EGRESS_RESOLVE = viaProxy.resolve;
    fs.writeFileSync(
      policyFile,
      `apiVersion: switchboard/policy/v1
integrations:
  github:
    enabled: true
    grants: [webhooks, dispatch, schedules, sessions.write, http.outbound, documents]
    outboundHosts: [api.github.com]
${viaProxy.policy}    settings:
      GITHUB_TOKEN: ${GITHUB_TOKEN}
      GITHUB_WEBHOOK_SECRET: e2e-webhook-secret
      GITHUB_API_URL: ${viaProxy.url}
tokens: { defaultTtl: 15m, maxTtl: 2h }
profiles:
  scripted:
    runner: ${REFERENCE_AGENT_RUNNER}
    tools: ["github:*"]
    timeout: 2m
`,
    );
  });
  afterAll(async () => {
    await github?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const gw = useTestGateway(
    Object.assign(gatewayEnv, {
      INTEGRATION_DIRS: path.join(REPO_ROOT, 'servers'),
      SWITCHBOARD_POLICY: policyFile,
    }),
  );
  const auth = { authorization: `Bearer ${ADMIN_KEY}` };

  it('runs the plan: progress, get_pr through /mcp, task_complete; events in order; tokens revoked', async () => {
    const plan = {
      calls: [{ tool: 'github__get_pr', arguments: { repo: 'acme/api', number: 42 } }],
    };
    const created = await fetch(`${gw().url}/api/v1/tasks`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ profile: 'scripted', prompt: JSON.stringify(plan) }),
    });
    expect(created.status).toBe(201);
    const { task } = (await created.json()) as { task: { id: string; status: string } };

    const stream = await openSse(`${gw().url}/api/v1/tasks/${task.id}/events`, auth);
    if (!stream.contentType?.includes('text/event-stream')) {
      let text = '';
      for await (const e of stream.events) text += e.data;
      throw new Error(`events: ${stream.status} ${stream.contentType} ${text}`);
    }
    // Each SSE event carries the whole task_events row: {seq, taskId, type, data, createdAt}.
    const seen: Array<{ type: string; data: Record<string, unknown> }> = [];
    for await (const event of stream.events) {
      const row = JSON.parse(event.data) as { data: Record<string, unknown> };
      seen.push({ type: event.event ?? '', data: row.data });
    }
    const types = seen.map((e) => e.type);
    const order = ['task:created', 'task:started', 'task:progress', 'task:tool_use', 'task:done'];
    const positions = order.map((type) => types.indexOf(type));
    expect(
      positions.every((p) => p >= 0),
      JSON.stringify(seen),
    ).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(types.at(-1)).toBe('task:done');
    const call = seen.find((e) => e.type === 'task:tool_use');
    expect(call?.data).toMatchObject({ integration: 'github', tool: 'get_pr', ok: true });
    expect(github.calls.some((c) => c.path === '/repos/acme/api/pulls/42')).toBe(true);

    const { task: done } = (await (
      await fetch(`${gw().url}/api/v1/tasks/${task.id}`, { headers: auth })
    ).json()) as { task: { status: string; result: string } };
    expect(done.status).toBe('complete');
    expect(done.result).toContain('#42 Add dark mode');

    const live = await gw().sql<{ n: number }[]>`
      select count(*)::int as n from tokens where task_id = ${task.id} and revoked_at is null`;
    expect(live[0]?.n).toBe(0);
    const all = await gw().sql<{ n: number }[]>`
      select count(*)::int as n from tokens where task_id = ${task.id}`;
    expect(all[0]?.n).toBeGreaterThanOrEqual(3);
  });

  it('switchboard task run --wait shows the steps live and exits 0 with the result', async () => {
    const plan = {
      calls: [{ tool: 'github__list_issues', arguments: { repo: 'acme/api' } }],
      result: 'listed',
    };
    const run = await runSwitchboard(
      ['task', 'run', '--profile', 'scripted', '--prompt', JSON.stringify(plan), '--wait'],
      { SWITCHBOARD_URL: gw().url, SWITCHBOARD_API_KEY: ADMIN_KEY },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/github__list_issues|list_issues/);
    expect(run.stdout).toContain('listed');
  });
});
