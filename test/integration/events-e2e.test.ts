/**
 * Issue 6 end to end, with real payload shapes and the real example integrations:
 *  - a GitHub-signed `pull_request` opened delivery → the `github` handler → a task → the
 *    reference agent → its result → the `github` dispatcher → a comment on the fake GitHub API;
 *  - a Slack-signed message event → the `chat` handler (sync webhook, run by the gateway as
 *    chat's own process) → a task in the channel's session → the reference agent → the reply
 *    delivered into the message's thread (read back through chat's list_messages).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ByName, byName } from '../helpers/by-name.ts';
import { type FakeGitHub, startFakeGitHub } from '../helpers/fake-github.ts';
import {
  ADMIN_KEY,
  REFERENCE_AGENT_RUNNER,
  REPO_ROOT,
  useTestGateway,
} from '../helpers/gateway.ts';
import { until } from '../helpers/until.ts';
import { githubHeaders, slackHeaders } from '../helpers/webhooks.ts';

/** The fake GitHub by name through the egress proxy: set once it listens, before the gateway starts. */
let viaProxy: ByName;
const gatewayEnv: Record<string, string> = {};

const GITHUB_TOKEN = 'ghp_events_e2e_0123456789';
const GITHUB_SECRET = 'events-e2e-github-secret';
const CHAT_SECRET = 'events-e2e-chat-secret';
// Inside the repo, so the processes started there resolve packages from its node_modules.
const ROOT = fs.mkdtempSync(path.join(REPO_ROOT, 'test/fixtures/.generated-events-'));
const POLICY = path.join(ROOT, 'policy.yaml');

/** servers/chat's manifest (its server is started from servers/chat; the gateway picks its port). */
function writeChat(): void {
  const manifest = fs
    .readFileSync(path.join(REPO_ROOT, 'servers/chat/switchboard.yaml'), 'utf8')
    .replace(
      '"dist/server.js"',
      JSON.stringify(path.join(REPO_ROOT, 'servers/chat/dist/server.js')),
    );
  fs.mkdirSync(path.join(ROOT, 'chat'));
  fs.writeFileSync(path.join(ROOT, 'chat', 'switchboard.yaml'), manifest);
}

describe('events in, results out (issue 6 end to end)', () => {
  let github: FakeGitHub;
  beforeAll(async () => {
    github = await startFakeGitHub({
      token: GITHUB_TOKEN,
      pulls: {
        'acme/api': [{ number: 42, title: 'Add dark mode', body: 'A theme.', author: 'ada' }],
      },
    });
    // The fake API by name, through the egress proxy (issue 21; helpers/egress.ts).
    viaProxy = byName('api.github.com', github.url);
    gatewayEnv.SWITCHBOARD_EGRESS_RESOLVE = viaProxy.resolve;
    writeChat();
    fs.writeFileSync(
      POLICY,
      `apiVersion: switchboard/policy/v1
integrations:
  github:
    enabled: true
    grants: [webhooks, dispatch, schedules, sessions.write, http.outbound, documents]
    outboundHosts: [api.github.com]
${viaProxy.policy}    profile: scripted
    settings:
      GITHUB_TOKEN: ${GITHUB_TOKEN}
      GITHUB_WEBHOOK_SECRET: ${GITHUB_SECRET}
      GITHUB_API_URL: ${viaProxy.url}
  chat:
    enabled: true
    grants: [webhooks, dispatch, processes, sessions.write, events]
    allowUrls: ["http://127.0.0.1:\${CHAT_PORT}"]
    profile: scripted
    settings:
      CHAT_SIGNING_SECRET: ${CHAT_SECRET}
tokens: { defaultTtl: 15m, maxTtl: 2h }
profiles:
  scripted:
    runner: ${REFERENCE_AGENT_RUNNER}
    tools: ["github:*", "chat:*"]
    timeout: 2m
`,
    );
  });
  afterAll(async () => {
    await github?.close();
    fs.rmSync(ROOT, { recursive: true, force: true });
  });
  // servers/ first, then ROOT: its chat (server started from servers/chat) overrides servers/chat by name.
  const gw = useTestGateway(
    Object.assign(gatewayEnv, {
      INTEGRATION_DIRS: `${path.join(REPO_ROOT, 'servers')}:${ROOT}`,
      SWITCHBOARD_POLICY: POLICY,
    }),
  );

  const outboxOf = (taskId: string) =>
    gw().sql<{ status: string; attempts: number }[]>`
      select status, attempts from outbox where task_id = ${taskId} and kind = 'dispatch'`;

  it('GitHub pull_request opened → github handler → task → reference agent → PR comment', async () => {
    const delivery = randomUUID();
    // The shape GitHub sends (trimmed to the fields the handler reads, plus some it ignores).
    const body = JSON.stringify({
      action: 'opened',
      number: 42,
      pull_request: {
        number: 42,
        title: 'Add dark mode',
        body: 'A theme.',
        html_url: 'https://github.com/acme/api/pull/42',
        user: { login: 'ada', type: 'User' },
        draft: false,
      },
      repository: { full_name: 'acme/api', private: false },
      sender: { login: 'ada', type: 'User' },
    });
    const res = await fetch(`${gw().url}/hooks/github/events`, {
      method: 'POST',
      headers: githubHeaders(GITHUB_SECRET, body, delivery, 'pull_request'),
      body,
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };

    const task = await until('the task', async () => {
      const [row] = await gw().sql<{ id: string; status: string; result: string | null }[]>`
        select id::text, status, result from tasks where delivery_id = ${id}`;
      return row && ['complete', 'failed'].includes(row.status) ? row : undefined;
    });
    expect(task.status).toBe('complete');
    const comments = await until('the PR comment', async () => github.comments.get('acme/api#42'));
    expect(comments).toHaveLength(1);
    expect(comments[0]).toContain('<!-- switchboard -->');
    expect(comments[0]).toContain(task.result!.slice(0, 40));
    // The comment exists before the dispatcher's answer reaches the outbox worker: poll.
    const rows = await until('the outbox row delivered', async () => {
      const found = await outboxOf(task.id);
      return found[0]?.status === 'delivered' ? found : undefined;
    });
    expect(rows).toEqual([{ status: 'delivered', attempts: 1 }]);
    const [session] = await gw().sql<{ key: string }[]>`
      select s.key from sessions s join tasks t on t.session_id = s.id where t.id = ${task.id}`;
    expect(session!.key).toBe('github:acme/api#42');
  }, 90_000);

  it('Slack-signed message → chat handler (sync) → task in the channel session → reply in the thread', async () => {
    const ts = `${Math.floor(Date.now() / 1000)}.000100`;
    const body = JSON.stringify({
      token: 'legacy-verification-token',
      team_id: 'T1',
      api_app_id: 'A1',
      type: 'event_callback',
      event_id: `Ev${randomUUID().slice(0, 8)}`,
      event_time: Math.floor(Date.now() / 1000),
      event: { type: 'message', channel: 'general', user: 'U123', text: 'Is the build green?', ts },
    });
    const res = await fetch(`${gw().url}/hooks/chat/events`, {
      method: 'POST',
      headers: slackHeaders(CHAT_SECRET, body),
      body,
    });
    // Sync mode: chat's own answer.
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });

    const task = await until('the task', async () => {
      const [row] = await gw().sql<{ id: string; status: string; key: string }[]>`
        select t.id::text, t.status, s.key from tasks t join sessions s on s.id = t.session_id
         where s.key = 'chat:general' order by t.seq desc limit 1`;
      return row && ['complete', 'failed'].includes(row.status) ? row : undefined;
    });
    expect(task.status).toBe('complete');
    await until('the dispatch', async () =>
      (await outboxOf(task.id))[0]?.status === 'delivered' ? true : undefined,
    );
    // chat's lifecycle hook (manifest events:) got the task's start and end.
    await until('the hook calls', async () => {
      const rows = await gw().sql<{ type: string; status: string }[]>`
        select payload->'event'->>'type' as type, status from outbox
         where task_id = ${task.id} and target->>'type' = 'hook' order by id`;
      return rows.length === 2 && rows.every((r) => r.status === 'delivered') ? rows : undefined;
    });

    // Read the thread back through the gateway, as an agent would.
    const granted = (await (
      await fetch(`${gw().url}/api/v1/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ external: true, scope: ['chat:list_messages'] }),
      })
    ).json()) as { mcp: { url: string; token: string } };
    const client = new Client({ name: 'events-e2e', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(granted.mcp.url), {
        requestInit: { headers: { authorization: `Bearer ${granted.mcp.token}` } },
      }),
    );
    try {
      const listed = await client.callTool({
        name: 'chat__list_messages',
        arguments: { channel: 'general', limit: 50 },
      });
      const messages = (listed.structuredContent as { messages: Array<Record<string, unknown>> })
        .messages;
      // 👀 while the task ran, replaced by ✅ when it ended (chat's on_task_event).
      expect(messages.find((m) => m.ts === ts)).toMatchObject({
        user: 'U123',
        bot: false,
        reactions: ['white_check_mark'],
      });
      const reply = messages.find((m) => m.bot === true && m.threadTs === ts);
      const [done] = await gw().sql<{ result: string }[]>`
        select result from tasks where id = ${task.id}`;
      expect(done!.result).not.toBe('');
      expect(reply, JSON.stringify(messages)).toMatchObject({
        user: expect.any(String),
        text: done!.result.slice(0, 40_000),
      });
    } finally {
      await client.close();
    }
  }, 90_000);
});
