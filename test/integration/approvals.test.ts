/**
 * Human approval end to end (issue 15 point 5), through real `switchboard start` processes:
 * - a queued task in a chat session (the reference agent's plan calls echo:sleep, which an
 *   `approvals` rule holds): the request is posted into the chat thread by chat's own
 *   `ask_approval` dispatcher handler, listed and approved with the real CLI, and the call
 *   proceeds and the result is dispatched to the thread; a denied one fails the task with the
 *   denier and the reason;
 * - two gateway processes on one PostgreSQL: a call held on the first (the agent's MCP client
 *   gets progress notifications while it waits) is approved through the second's API and
 *   proceeds; a denial there comes back to the agent as a tool error naming who and why.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usingPostgres } from '../helpers/database.ts';
import {
  ADMIN_KEY,
  REFERENCE_AGENT_RUNNER,
  REPO_ROOT,
  runSwitchboard,
} from '../helpers/gateway.ts';
import {
  type GatewayProcess,
  gatewayDatabase,
  listenUrl,
  startGatewayProcess,
} from '../helpers/gateway-process.ts';
import { freePort } from '../helpers/processes.ts';
import { until } from '../helpers/until.ts';

type Json = Record<string, unknown>;

// Inside the repo, so the processes started there resolve packages from its node_modules.
const ROOT = fs.mkdtempSync(path.join(REPO_ROOT, 'test/fixtures/.generated-approvals-'));
const POLICY = path.join(ROOT, 'policy.yaml');
const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/integrations');

function writeFixtures(): void {
  const manifest = fs
    .readFileSync(path.join(REPO_ROOT, 'servers/chat/switchboard.yaml'), 'utf8')
    .replace(
      '"dist/server.js"',
      JSON.stringify(path.join(REPO_ROOT, 'servers/chat/dist/server.js')),
    );
  fs.mkdirSync(path.join(ROOT, 'chat'));
  fs.writeFileSync(path.join(ROOT, 'chat', 'switchboard.yaml'), manifest);
  fs.writeFileSync(
    POLICY,
    `apiVersion: switchboard/policy/v1
integrations:
  echo: { enabled: true }
  chat:
    enabled: true
    grants: [webhooks, dispatch, processes, sessions.write, events]
    allowUrls: ["http://127.0.0.1:\${CHAT_PORT}"]
    settings: { CHAT_SIGNING_SECRET: approvals-e2e-chat-secret }
tokens: { defaultTtl: 15m, maxTtl: 2h }
profiles:
  scripted:
    runner: ${REFERENCE_AGENT_RUNNER}
    tools: ["echo:*"]
    timeout: 2m
approvals:
  - name: reviewed-sleeps
    tools: ["echo:sleep"]
    message: a person approves every sleep
`,
  );
}

const apiOf =
  (url: string) =>
  async (
    method: string,
    route: string,
    body?: unknown,
  ): Promise<{ status: number; json: Json }> => {
    const res = await fetch(`${url}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Json };
  };

async function ready(api: ReturnType<typeof apiOf>, names: string[]): Promise<void> {
  for (const name of names) {
    await until(`${name} ready`, async () => {
      const { json } = await api('GET', `/integrations/${name}`);
      return (json.integration as Json | undefined)?.state === 'ready' ? true : undefined;
    });
  }
}

/** The one pending approval of a task, as GET /approvals lists it. */
const pendingApproval = (api: ReturnType<typeof apiOf>, taskId: string) =>
  until('the approval request', async () => {
    const { json } = await api('GET', `/approvals?status=pending&task=${taskId}`);
    return (json.approvals as Json[] | undefined)?.[0];
  });

async function connect(url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'approvals-e2e', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

beforeAll(writeFixtures);
afterAll(() => fs.rmSync(ROOT, { recursive: true, force: true }));

const text = (result: { content?: unknown }) =>
  ((result.content as Array<{ text?: string }> | undefined) ?? []).map((c) => c.text).join('');

describe('approvals: a queued task in a chat session, decided with the CLI', () => {
  let gw: GatewayProcess;
  let api: ReturnType<typeof apiOf>;
  let reader: Client | undefined;
  const cli = (args: string[]) =>
    runSwitchboard(args, { SWITCHBOARD_URL: gw.url, SWITCHBOARD_API_KEY: ADMIN_KEY });

  beforeAll(async () => {
    gw = await startGatewayProcess({
      SWITCHBOARD_POLICY: POLICY,
      INTEGRATION_DIRS: `${FIXTURES}:${ROOT}`,
    });
    api = apiOf(gw.url);
    await ready(api, ['echo', 'chat']);
    const granted = await api('POST', '/tasks', {
      external: true,
      scope: ['chat:list_messages'],
    });
    reader = await connect(gw.url, (granted.json.mcp as { token: string }).token);
  }, 120_000);
  afterAll(async () => {
    await reader?.close().catch(() => {});
    await gw?.cleanup();
  });

  const thread = async (channel: string) => {
    const listed = await reader!.callTool({
      name: 'chat__list_messages',
      arguments: { channel, limit: 50 },
    });
    return (listed.structuredContent as { messages: Array<{ text: string; bot: boolean }> })
      .messages;
  };

  const startTask = async (channel: string, ms: number, inSession = true) => {
    const plan = {
      calls: [{ tool: 'echo__sleep', arguments: { ms } }],
      result: `slept ${ms} ms after approval`,
    };
    const created = await api('POST', '/tasks', {
      prompt: JSON.stringify(plan),
      profile: 'scripted',
      ...(inSession && { session: `chat:${channel}` }),
      dispatch: { type: 'chat', config: { channel } },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    return (created.json.task as { id: string }).id;
  };

  const ended = (id: string) =>
    until(
      'the task to end',
      async () => {
        const task = (await api('GET', `/tasks/${id}`)).json.task as Json;
        return ['complete', 'failed'].includes(task.status as string) ? task : undefined;
      },
      90_000,
    );

  it('the request reaches the chat thread and the CLI; approved, the call proceeds and the result is dispatched', async () => {
    const id = await startTask('ops', 7);
    const approval = await pendingApproval(api, id);
    expect(approval).toMatchObject({
      taskId: id,
      rule: 'reviewed-sleeps',
      integration: 'echo',
      tool: 'sleep',
      arguments: { ms: 7 },
      status: 'pending',
    });
    // Posted into the thread by chat's ask_approval (the outbox's announcement).
    const asked = await until('the question in the thread', async () =>
      (await thread('ops')).find((m) => m.text.startsWith('Approval needed: echo:sleep')),
    );
    expect(asked.text).toContain('a person approves every sleep');
    expect(asked.text).toContain(`switchboard approvals approve ${approval.id}`);
    const listed = await cli(['approvals', 'list', '--status', 'pending']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(String(approval.id));
    expect(listed.stdout).toContain('echo:sleep');
    // Still held: the agent has not finished.
    expect(((await api('GET', `/tasks/${id}`)).json.task as Json).status).toBe('running');
    const approved = await cli(['approvals', 'approve', String(approval.id), '--reason', 'fine']);
    expect(approved.code, approved.stderr).toBe(0);
    const task = await ended(id);
    expect(task).toMatchObject({ status: 'complete', result: 'slept 7 ms after approval' });
    await until('the result in the thread', async () =>
      (await thread('ops')).find((m) => m.text === 'slept 7 ms after approval'),
    );
    const watched = await cli(['task', 'watch', id]);
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stdout).toContain(`switchboard approvals approve ${approval.id}`);
    expect(watched.stdout).toMatch(/approv\w* .*fine/);
  }, 120_000);

  // Regression: a dispatcher got `session: {id: null, key: null}` for a task without a session,
  // which failed its input schema: the result (and the request) were dead-lettered.
  it('a task without a session, sent to chat by its own dispatch: asked in the channel, its result delivered', async () => {
    const id = await startTask('no-session', 9, false);
    const approval = await pendingApproval(api, id);
    await until('the question in the channel', async () =>
      (await thread('no-session')).find((m) => m.text.includes(String(approval.id))),
    );
    expect((await api('POST', `/approvals/${approval.id}/approve`, {})).status).toBe(200);
    expect(await ended(id)).toMatchObject({ status: 'complete' });
    await until('the result in the channel', async () =>
      (await thread('no-session')).find((m) => m.text === 'slept 9 ms after approval'),
    );
  }, 120_000);

  it('denied with a reason: the agent’s call fails with who denied it and why, and the task with it', async () => {
    const id = await startTask('ops-denied', 8);
    const approval = await pendingApproval(api, id);
    const denied = await cli([
      'approvals',
      'deny',
      String(approval.id),
      '--reason',
      'not during the freeze',
    ]);
    expect(denied.code, denied.stderr).toBe(0);
    const task = await ended(id);
    expect(task.status).toBe('failed');
    // The agent saw the denial as its call's error (task watch shows the failed call and the
    // decision; the reference agent stops at the first failed call).
    const watched = await cli(['task', 'watch', id]);
    expect(watched.stdout).toMatch(
      new RegExp(
        `approval ${approval.id} \\(rule reviewed-sleeps\\): denied by \\S+: not during the freeze`,
      ),
    );

    const again = await cli(['approvals', 'approve', String(approval.id)]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(
      new RegExp(`409 approval ${approval.id} is denied \\(by \\S+\\); only a pending one`),
    );
  }, 120_000);
});

describe('approvals across two gateway processes on one PostgreSQL', () => {
  // The agent reaches the first one: the public URL (the tokens' audience and the Host the MCP
  // routes accept) is its address, so its port is chosen before it starts.
  let a: GatewayProcess | undefined;
  let b: GatewayProcess | undefined;
  const clients: Client[] = [];

  beforeAll(async () => {
    if (!usingPostgres) return;
    // One master key and one public URL for both: a token minted by either verifies on both.
    const port = await freePort();
    const env = {
      SWITCHBOARD_POLICY: POLICY,
      INTEGRATION_DIRS: FIXTURES,
      SWITCHBOARD_MASTER_KEY: '5b'.repeat(32),
      SWITCHBOARD_PUBLIC_URL: `http://127.0.0.1:${port}`,
    };
    a = await startGatewayProcess({ ...env, PORT: String(port) });
    b = await startGatewayProcess({ ...env, DATABASE_URL: gatewayDatabase(a) });
    await Promise.all([ready(apiOf(listenUrl(a)), ['echo']), ready(apiOf(listenUrl(b)), ['echo'])]);
  }, 180_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await b?.cleanup();
    await a?.cleanup();
  });

  it('held on one replica, approved on the other: the call proceeds; denied there: the agent gets the denial', async (ctx) => {
    if (!usingPostgres || !a || !b) {
      console.log(
        'skipped: two gateway processes need a shared PostgreSQL (DATABASE_URL); embedded PGlite is one process (test/security/approvals.test.ts runs two replicas’ guards on one database on both)',
      );
      ctx.skip();
      return;
    }
    const onA = apiOf(listenUrl(a));
    const onB = apiOf(listenUrl(b));
    const granted = await onA('POST', '/tasks', { external: true, scope: ['echo:*'] });
    expect(granted.status, JSON.stringify(granted.json)).toBe(201);
    const taskId = (granted.json.task as { id: string }).id;
    const client = await connect(listenUrl(a), (granted.json.mcp as { token: string }).token);
    clients.push(client);

    const progress: string[] = [];
    const held = client.callTool(
      { name: 'echo__sleep', arguments: { ms: 3 } },
      { onprogress: (p) => progress.push(String(p.message)), timeout: 120_000 },
    );
    const approval = await pendingApproval(onB, taskId);
    const approved = await onB('POST', `/approvals/${approval.id}/approve`, { reason: 'ok' });
    expect(approved.status, JSON.stringify(approved.json)).toBe(200);
    const result = await held;
    expect(result.isError).not.toBe(true);
    expect(text(result)).toBe('slept 3');
    expect(progress[0]).toContain(`waiting for approval ${approval.id}`);

    const denied = client.callTool(
      { name: 'echo__sleep', arguments: { ms: 4 } },
      { timeout: 120_000 },
    );
    const second = await pendingApproval(onB, taskId);
    expect(second.id).not.toBe(approval.id);
    const refused = await onB('POST', `/approvals/${second.id}/deny`, { reason: 'too slow' });
    expect(refused.status, JSON.stringify(refused.json)).toBe(200);
    const answer = await denied;
    expect(answer.isError).toBe(true);
    expect(text(answer)).toMatch(
      new RegExp(`^approval ${second.id} \\(rule reviewed-sleeps\\): denied by \\S+: too slow$`),
    );
  }, 120_000);
});

describe('approvals across a gateway restart (SIGKILL)', () => {
  let first: GatewayProcess | undefined;
  let second: GatewayProcess | undefined;
  const clients: Client[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await second?.cleanup();
    await first?.cleanup();
  });

  it('the held call ends with the gateway, its request stays pending (never approved); the agent’s retry on the restarted gateway waits on it and proceeds once approved', async () => {
    // The restarted gateway listens where the first did: the task's token (its audience) and
    // the agent's URL stay valid.
    const port = await freePort();
    const env = {
      SWITCHBOARD_POLICY: POLICY,
      INTEGRATION_DIRS: FIXTURES,
      PORT: String(port),
      SWITCHBOARD_PUBLIC_URL: `http://127.0.0.1:${port}`,
    };
    first = await startGatewayProcess(env);
    const onFirst = apiOf(listenUrl(first));
    await ready(onFirst, ['echo']);
    const granted = await onFirst('POST', '/tasks', { external: true, scope: ['echo:*'] });
    const taskId = (granted.json.task as { id: string }).id;
    const token = (granted.json.mcp as { token: string }).token;
    const client = await connect(listenUrl(first), token);
    clients.push(client);
    const held = client
      .callTool({ name: 'echo__sleep', arguments: { ms: 5 } }, { timeout: 120_000 })
      .then(
        () => 'answered',
        () => 'failed',
      );
    const approval = await pendingApproval(onFirst, taskId);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(await held).toBe('failed');

    // The same database (and data dir, with its master key) under a new process.
    second = await startGatewayProcess({ ...first.env });
    const onSecond = apiOf(listenUrl(second));
    await ready(onSecond, ['echo']);
    const after = (await onSecond('GET', `/approvals/${approval.id}`)).json.approval as Json;
    expect(after).toMatchObject({ status: 'pending', decidedBy: null, usedAt: null });
    const retryClient = await connect(listenUrl(second), token);
    clients.push(retryClient);
    const retry = retryClient.callTool(
      { name: 'echo__sleep', arguments: { ms: 5 } },
      { timeout: 120_000 },
    );
    await new Promise((r) => setTimeout(r, 300));
    const approved = await onSecond('POST', `/approvals/${approval.id}/approve`, {});
    expect(approved.status, JSON.stringify(approved.json)).toBe(200);
    expect(text(await retry)).toBe('slept 5');
    const listed = (await onSecond('GET', `/approvals?task=${taskId}`)).json.approvals as Json[];
    expect(listed.map((a) => [a.id, a.status])).toEqual([[approval.id, 'approved']]);
  }, 180_000);
});
