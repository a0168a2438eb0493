/**
 * Issue 15 end to end with the real Codex CLI (pinned, installed by the test into
 * .cache/agent-clis) against a fake OpenAI Responses API
 * (test/fixtures/fake-models/openai-responses.ts). A GitHub-signed `pull_request` delivery
 * starts a task whose profile is `agent: codex` (presets/codex.ts) with `extraArgs` naming a
 * provider that points at the fake, and the provider's key as the profile's secret (set through
 * the API before the webhook, stored encrypted). Codex, scripted by the fake model:
 *  1. calls github get_pr through the gateway with the task's token (approved by the bundle's
 *     config.toml: `default_tools_approval_mode = "approve"`);
 *  2. reads a resource of the fixture integration (Codex's `read_mcp_resource`);
 *  3. calls switchboard task_complete with its review, then answers.
 * The review is the task's result and the github dispatcher posts it on the PR. The model is
 * never offered github's out-of-scope tools (list_issues, comment), although the webhook's
 * trigger asks for them. The task's context reaches the model where Codex reads it
 * (tasks/agent-context.ts): the trigger's preamble and the session history from
 * `$CODEX_HOME/AGENTS.md`, once, and the trigger's skill `github/review` as `github-review`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { codexPreset } from '../../gateway/src/runners/presets/codex.ts';
import {
  codexProviderArgs,
  type FakeResponsesServer,
  type OfferedTool,
  offeredTools,
  startFakeResponses,
  toolLabel,
} from '../fixtures/fake-models/openai-responses.ts';
import { agentCliSuite } from '../helpers/agent-clis.ts';
import { sendPullRequestOpened, setProfileSecret, taskEvents } from '../helpers/agent-e2e.ts';
import { type ByName, byName } from '../helpers/by-name.ts';
import { type FakeGitHub, startFakeGitHub } from '../helpers/fake-github.ts';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';
import { until } from '../helpers/until.ts';

/** The fake GitHub by name through the egress proxy: set once it listens, before the gateway starts. */
let viaProxy: ByName;
const gatewayEnv: Record<string, string> = {};

const GITHUB_TOKEN = 'ghp_codex_e2e_0123456789';
const GITHUB_SECRET = 'codex-e2e-github-secret';
const MODEL_KEY = 'sk-fake-codex-model-key';
const REVIEW_PROMPT = 'Review pull request #42 in acme/api';
const REVIEW = 'PR #42 "Add dark mode" looks good to me: a small, focused theme change.';
const FINAL_TEXT = 'Review posted through task_complete.';
const DASHES = '--dangerously-bypass-approvals-and-sandbox';
const RESOURCE_RESULT = 'Read test://static-text through the gateway.';

const { installed, suite, title } = await agentCliSuite('codex', 'Codex', 'agent-codex.test.ts');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-codex-e2e-'));
// At the top level: a skipped suite runs none of its own hooks.
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const policyFile = path.join(tmp, 'policy.yaml');

// biome-ignore lint/suspicious/noExplicitAny: API answers and events are read loosely here
type Json = Record<string, any>;

/** Codex 0.171 offers an MCP server's tools in a namespace `mcp__<server>`. */
const mcpTool = (server: string, name: string) => (offered: OfferedTool) =>
  offered.namespace === `mcp__${server}` && offered.name === name;

suite(title, () => {
  let github: FakeGitHub;
  let model: FakeResponsesServer;
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
    model = await startFakeResponses([
      {
        match: REVIEW_PROMPT,
        steps: [
          {
            kind: 'call',
            label: 'github get_pr',
            match: mcpTool('github', 'get_pr'),
            arguments: { repo: 'acme/api', number: 42 },
          },
          {
            kind: 'call',
            label: 'switchboard task_complete',
            match: mcpTool('switchboard', 'task_complete'),
            arguments: { result: REVIEW },
          },
          { kind: 'text', text: FINAL_TEXT },
        ],
      },
      {
        match: DASHES,
        steps: [
          {
            kind: 'call',
            label: 'read_mcp_resource',
            match: (t) => t.namespace === undefined && t.name === 'read_mcp_resource',
            arguments: { server: 'fixture', uri: 'test://static-text' },
          },
          {
            kind: 'call',
            label: 'switchboard task_complete',
            match: mcpTool('switchboard', 'task_complete'),
            arguments: { result: RESOURCE_RESULT },
          },
          { kind: 'text', text: 'Done.' },
        ],
      },
    ]);
    const runner = {
      driver: 'process',
      // The pinned install, not a `codex` on PATH (the preset's command).
      command: installed.ok ? installed.bin : 'codex',
      extraArgs: codexProviderArgs(model.baseUrl, 'FAKE_MODEL_KEY'),
    };
    // github:get_pr only of github, although the webhook's trigger asks for three tools; the
    // fixture whole (resources come only with the whole integration: docs/policy.md).
    fs.writeFileSync(
      policyFile,
      `apiVersion: switchboard/policy/v1
integrations:
  github:
    enabled: true
    grants: [webhooks, dispatch, schedules, sessions.write, http.outbound, documents]
    outboundHosts: [api.github.com]
${viaProxy.policy}    profile: codex
    settings:
      GITHUB_TOKEN: ${GITHUB_TOKEN}
      GITHUB_WEBHOOK_SECRET: ${GITHUB_SECRET}
      GITHUB_API_URL: ${viaProxy.url}
  fixture:
    enabled: true
tokens: { defaultTtl: 15m, maxTtl: 2h }
profiles:
  codex:
    agent: codex
    runner: ${JSON.stringify(runner)}
    secrets: [FAKE_MODEL_KEY]
    tools: ["github:get_pr", "fixture:*"]
    timeout: 3m
`,
    );
  });
  afterAll(async () => {
    await github?.close();
    await model?.close();
  });
  const gw = useTestGateway(
    Object.assign(gatewayEnv, {
      INTEGRATION_DIRS: path.join(REPO_ROOT, 'servers'),
      SWITCHBOARD_POLICY: policyFile,
    }),
  );
  const auth = { authorization: `Bearer ${ADMIN_KEY}` };

  const eventsOf = (taskId: string) => taskEvents(gw().url, taskId);

  it('webhook → codex exec → get_pr and a resource through the gateway → task_complete → PR comment', async () => {
    // The model key as the profile's secret: encrypted in the database, in this profile's
    // agents' environment only (the fake model checks it arrives as the bearer).
    await setProfileSecret(gw().url, 'codex', 'FAKE_MODEL_KEY', MODEL_KEY);
    const deliveryId = await sendPullRequestOpened(gw().url, GITHUB_SECRET);
    // The second task, through the API while the first runs: its scope is the profile's, the
    // fixture included; its prompt starts with an option Codex knows, and must stay text.
    const created = await fetch(`${gw().url}/api/v1/tasks`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ profile: 'codex', prompt: `${DASHES} then read the static text.` }),
    });
    expect(created.status).toBe(201);
    const dashesId = ((await created.json()) as Json).task.id as string;

    const ended = (where: string, probe: () => Promise<Json | undefined>) =>
      until(where, probe).catch((error) => {
        const dump = JSON.stringify(model.requests.map((r) => r.body.input?.slice(-2)));
        throw new Error(`${(error as Error).message}; model saw: ${dump.slice(0, 4000)}`);
      });
    const review = await ended('the review task', async () => {
      const [row] = await gw().sql<{ id: string; status: string; result: string | null }[]>`
        select id::text, status, result from tasks where delivery_id = ${deliveryId}`;
      return row && ['complete', 'failed'].includes(row.status) ? row : undefined;
    });
    const seen = await eventsOf(review.id);
    expect(review.status, JSON.stringify(seen)).toBe('complete');
    expect(review.result, JSON.stringify(seen)).toBe(REVIEW);

    // The call went through the gateway with the task's token: its task:tool_use, the upstream.
    expect(seen.find((e) => e.type === 'task:tool_use')?.data).toMatchObject({
      integration: 'github',
      tool: 'get_pr',
      ok: true,
    });
    expect(github.calls.some((c) => c.path === '/repos/acme/api/pulls/42')).toBe(true);
    // The model's credential is the profile's variable, sent by Codex to the provider.
    expect(new Set(model.requests.map((r) => r.authorization))).toEqual(
      new Set([`Bearer ${MODEL_KEY}`]),
    );

    // What the model was offered: the task's tools, none out of its scope.
    const turns = model.turns(REVIEW_PROMPT);
    expect(turns.length).toBeGreaterThanOrEqual(3);
    for (const turn of turns) {
      const mcp = offeredTools(turn.body)
        .filter((t) => t.namespace?.startsWith('mcp__'))
        .map(toolLabel);
      expect(mcp).toContain('mcp__github__get_pr');
      expect(mcp).toContain('mcp__switchboard__task_complete');
      expect(mcp.filter((n) => n.startsWith('mcp__github__'))).toEqual(['mcp__github__get_pr']);
      // The webhook's trigger narrows the task to github: no fixture server at all.
      expect(mcp.every((n) => /^mcp__(github|switchboard)__/.test(n), mcp.join(' '))).toBe(true);
    }
    // The tool result the model saw came from the gateway (the fake GitHub's PR).
    const outputs = (turns[1]!.body.input ?? []).filter((i) => i.type === 'function_call_output');
    expect(JSON.stringify(outputs)).toContain('Add dark mode');

    // The context: preamble and session history from $CODEX_HOME/AGENTS.md, once, in a user
    // message of Codex's own; the skill github/review among the skills Codex lists.
    const userTexts = (turns[0]!.body.input ?? [])
      .filter((i) => i.type === 'message' && i.role === 'user')
      .flatMap((i) => (i.content as Json[]).map((c) => (typeof c.text === 'string' ? c.text : '')));
    const instructions = userTexts.find((t) => t.includes(REVIEW_PROMPT));
    expect(instructions, JSON.stringify(userTexts).slice(0, 2_000)).toContain('## Session history');
    expect(instructions).toContain('"role":"integration","content":"PR #42 opened by @ada');
    expect(JSON.stringify(turns[0]!.body.input).split(REVIEW_PROMPT)).toHaveLength(2);
    expect(JSON.stringify(turns[0]!.body)).toContain(
      '- github-review: How to review a GitHub pull request',
    );
    expect(seen.find((e) => e.type === 'task:context')?.data).toMatchObject({
      into: 'files',
      files: ['.codex/AGENTS.md', '.codex/skills/github-review/SKILL.md'],
      skills: ['github/review'],
      refused: [],
    });

    // Codex's own account of the run, as its preset's parser reads it: the task's events once
    // the profile says `agent: codex`, else its stdout lines (task:token) parsed here.
    const agentEvents = seen.some((e) => e.type === 'task:agent_tool')
      ? seen.filter((e) => ['task:agent_tool', 'task:assistant', 'task:usage'].includes(e.type))
      : (() => {
          const parser = codexPreset.output();
          return seen
            .filter((e) => e.type === 'task:token' && e.data.stream === 'stdout')
            .flatMap((e) => parser.line(e.data.text as string) ?? [])
            .map((e) => ({ type: e.type, data: e.data as Json }));
        })();
    expect(agentEvents.find((e) => e.data.phase === 'call')?.data).toMatchObject({
      name: 'mcp__github__get_pr',
      input: JSON.stringify({ repo: 'acme/api', number: 42 }),
    });
    const prResult = agentEvents.find(
      (e) => e.data.phase === 'result' && e.data.name === 'mcp__github__get_pr',
    );
    expect(prResult?.data).toMatchObject({ isError: false });
    expect(prResult?.data.text).toContain('Add dark mode');
    expect(
      agentEvents.find(
        (e) => e.data.name === 'mcp__switchboard__task_complete' && e.data.phase === 'result',
      )?.data,
    ).toMatchObject({ isError: false });

    // Dispatched: the github dispatcher posted the review on the PR.
    const comments = await until('the PR comment', async () => github.comments.get('acme/api#42'));
    expect(comments).toHaveLength(1);
    expect(comments[0]).toContain(REVIEW);

    // The API task: the `--` prompt reached the model as text (stdin), the resource was read
    // through the gateway, and task_complete's result stands.
    const dashes = await ended('the resource task', async () => {
      const [row] = await gw().sql<{ status: string; result: string | null }[]>`
        select status, result from tasks where id = ${dashesId}`;
      return row && ['complete', 'failed'].includes(row.status) ? row : undefined;
    });
    expect(dashes, JSON.stringify(await eventsOf(dashesId))).toEqual({
      status: 'complete',
      result: RESOURCE_RESULT,
    });
    const resourceTurns = model.turns(DASHES);
    expect(JSON.stringify(resourceTurns[0]!.body.input)).toContain(
      `${DASHES} then read the static text.`,
    );
    expect(JSON.stringify(resourceTurns[1]!.body.input)).toContain(
      'This is the content of the static text resource.',
    );
  }, 240_000);
});
