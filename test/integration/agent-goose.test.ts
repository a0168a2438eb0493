/**
 * Issue 15 end to end with the real goose CLI (`@aaif/goose-binary-linux-x64`, pinned, installed
 * by the test into .cache/agent-clis) against a fake OpenAI Chat Completions API
 * (test/fixtures/fake-models/openai-chat.ts; goose's `openai` provider). A GitHub-signed
 * `pull_request` delivery starts a task whose profile is `agent: goose` (presets/goose.ts: no
 * command or args in the profile, `goose` on the gateway's PATH as an operator installs it),
 * the provider chosen by the profile's env and its key a profile secret set through the API
 * (stored encrypted). goose, scripted by the fake model:
 *  - calls `github__get_pr` through the gateway with the task's token (the bundle's
 *    `~/.config/goose/config.yaml`, a streamable_http extension whose bearer header comes from
 *    `env_keys`), then answers; the answer, goose's quiet stdout, is the task's result and the
 *    github dispatcher posts it on the PR;
 *  - a task through the API with its own preamble ends with switchboard's task_complete, whose
 *    result stands.
 * The model is offered the granted tools only: github's get_pr (not list_issues or comment)
 * and no fixture tool. The task's context reaches the model where goose reads it
 * (tasks/agent-context.ts): the trigger's preamble, the session history and the skill inlined
 * from `~/.config/goose/.goosehints`, once, in goose's system message.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  type FakeOpenAiChat,
  messageText,
  offeredTools,
  startFakeOpenAiChat,
} from '../fixtures/fake-models/openai-chat.ts';
import { agentCliSuite } from '../helpers/agent-clis.ts';
import { sendPullRequestOpened, setProfileSecret, taskEvents } from '../helpers/agent-e2e.ts';
import { type ByName, byName } from '../helpers/by-name.ts';
import { type FakeGitHub, startFakeGitHub } from '../helpers/fake-github.ts';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';
import { until } from '../helpers/until.ts';

/** The fake GitHub by name through the egress proxy: set once it listens, before the gateway starts. */
let viaProxy: ByName;
const gatewayEnv: Record<string, string> = {};

const GITHUB_TOKEN = 'ghp_goose_e2e_0123456789';
const GITHUB_SECRET = 'goose-e2e-github-secret';
const MODEL_KEY = 'sk-fake-goose-model-key';
/** The github trigger's preamble (servers/github/src/webhook.ts). */
const REVIEW = 'Review pull request #42 in acme/api';
const REVIEW_ANSWER = 'PR #42 "Add dark mode" looks good to me: a small, focused theme change.';
const API_PROMPT = '--quiet report back through task_complete.';
const API_PREAMBLE = 'Operator note 5c1e: answer in one line.';
const COMPLETE_RESULT = 'Closed the loop through task_complete.';

const { installed, suite, title } = await agentCliSuite('goose', 'goose', 'agent-goose.test.ts');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-goose-e2e-'));
// At the top level: a skipped suite runs none of its own hooks.
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const policyFile = path.join(tmp, 'policy.yaml');
// The npm package's bin is `goose-binary-linux-x64`; the preset runs `goose`, so a folder on
// the gateway's PATH holds a `goose` link to it (docs/agents.md says the same to operators).
const binDir = path.join(tmp, 'bin');
if (installed.ok) {
  fs.mkdirSync(binDir);
  fs.symlinkSync(installed.bin, path.join(binDir, 'goose'));
}

// biome-ignore lint/suspicious/noExplicitAny: API answers and events are read loosely here
type Json = Record<string, any>;

suite(title, () => {
  let github: FakeGitHub;
  let model: FakeOpenAiChat;
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
    model = await startFakeOpenAiChat([
      {
        match: REVIEW,
        steps: [
          { tool: 'github__get_pr', input: { repo: 'acme/api', number: 42 } },
          { text: REVIEW_ANSWER },
        ],
      },
      {
        match: API_PREAMBLE,
        steps: [
          { tool: 'switchboard__task_complete', input: { result: COMPLETE_RESULT } },
          { text: 'Reported.' },
        ],
      },
    ]);
    // The profile names the agent, the provider (env) and the key (a secret) only: command,
    // args and stdin are the preset's. github:get_pr only, although the trigger asks for three.
    fs.writeFileSync(
      policyFile,
      `apiVersion: switchboard/policy/v1
integrations:
  github:
    enabled: true
    grants: [webhooks, dispatch, schedules, sessions.write, http.outbound, documents]
    outboundHosts: [api.github.com]
${viaProxy.policy}    profile: goose
    settings:
      GITHUB_TOKEN: ${GITHUB_TOKEN}
      GITHUB_WEBHOOK_SECRET: ${GITHUB_SECRET}
      GITHUB_API_URL: ${viaProxy.url}
  fixture:
    enabled: true
    grants: []
tokens: { defaultTtl: 15m, maxTtl: 2h }
profiles:
  goose:
    agent: goose
    runner:
      driver: process
      env:
        GOOSE_PROVIDER: openai
        GOOSE_MODEL: ${model.model}
        OPENAI_HOST: ${model.url}
    secrets: [OPENAI_API_KEY]
    tools: ["github:get_pr", "fixture:*"]
    timeout: 3m
  goose-offline:
    agent: goose
    runner:
      driver: process
      env:
        GOOSE_PROVIDER: openai
        GOOSE_MODEL: ${model.model}
        OPENAI_HOST: http://127.0.0.1:1
        OPENAI_API_KEY: sk-unused
    tools: ["fixture:*"]
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
    installed.ok ? { PATH: `${binDir}:${process.env.PATH}` } : {},
  );
  const auth = { authorization: `Bearer ${ADMIN_KEY}` };

  const eventsOf = (taskId: string) => taskEvents(gw().url, taskId);
  const ended = (what: string, probe: () => Promise<Json | undefined>) =>
    until(what, probe).catch((error) => {
      const dump = JSON.stringify(model.requests.map((r) => r.body.messages.slice(-2)));
      throw new Error(`${(error as Error).message}; model saw: ${dump.slice(0, 4000)}`);
    });

  it('webhook → goose run → get_pr through the gateway → answer as result → PR comment; an API task ends with task_complete', async () => {
    // The model key as the profile's secret: encrypted in the database, in this profile's
    // agents' environment only (the fake checks it arrives as the bearer).
    await setProfileSecret(gw().url, 'goose', 'OPENAI_API_KEY', MODEL_KEY);
    const deliveryId = await sendPullRequestOpened(gw().url, GITHUB_SECRET);
    // The second task, through the API while the first runs: its prompt starts with an option
    // goose knows and stays text (goose reads it from the prompt file, `-i`).
    const created = await fetch(`${gw().url}/api/v1/tasks`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({
        profile: 'goose',
        prompt: API_PROMPT,
        execution: { preamble: API_PREAMBLE },
      }),
    });
    expect(created.status).toBe(201);
    const apiId = ((await created.json()) as Json).task.id as string;

    const review = await ended('the review task', async () => {
      const [row] = await gw().sql<{ id: string; status: string; result: string | null }[]>`
        select id::text, status, result from tasks where delivery_id = ${deliveryId}`;
      return row && ['complete', 'failed'].includes(row.status) ? row : undefined;
    });
    const seen = await eventsOf(review.id);
    expect(review.status, JSON.stringify(seen)).toBe('complete');
    // goose --quiet prints the model's final answer only: the clean exit's stdout is the result.
    expect(review.result, JSON.stringify(seen)).toBe(REVIEW_ANSWER);

    // The call went through the gateway with the task's token: its task:tool_use, the upstream.
    expect(seen.find((e) => e.type === 'task:tool_use')?.data).toMatchObject({
      integration: 'github',
      tool: 'get_pr',
      ok: true,
    });
    expect(github.calls.some((c) => c.path === '/repos/acme/api/pulls/42')).toBe(true);
    // The model's credential is the profile's secret, sent by goose to the provider.
    expect(new Set(model.requests.map((r) => r.headers.authorization))).toEqual(
      new Set([`Bearer ${MODEL_KEY}`]),
    );

    // goose's own account of the run, from its stream-json stdout (presets/goose-stream.ts).
    expect(seen.find((e) => e.type === 'task:agent_tool')?.data).toMatchObject({
      phase: 'call',
      name: 'github__get_pr',
      input: JSON.stringify({ repo: 'acme/api', number: 42 }),
    });
    const result = seen.find((e) => e.type === 'task:agent_tool' && e.data.phase === 'result');
    expect(result?.data).toMatchObject({ isError: false });
    expect(result?.data.text).toContain('Add dark mode');
    // The answer streamed in two chunks (the fake splits it), one event with the whole text.
    expect(seen.filter((e) => e.type === 'task:assistant').map((e) => e.data)).toEqual([
      { text: REVIEW_ANSWER },
    ]);
    expect(seen.find((e) => e.type === 'task:usage')?.data).toMatchObject({
      ok: true,
      inputTokens: expect.any(Number),
      outputTokens: expect.any(Number),
    });
    // No raw stdout line is left: every line was goose's format.
    expect(seen.filter((e) => e.type === 'task:token' && e.data.stream === 'stdout')).toEqual([]);

    // What the model was offered: the task's gateway tools, none out of its scope, and none of
    // goose's own built-in tools (shell and the like, named without a server's prefix).
    const turns = model.turns(REVIEW);
    expect(turns.length).toBeGreaterThanOrEqual(2);
    for (const turn of turns) {
      const offered = offeredTools(turn.body);
      const gateway = offered.filter((n) => /^(github|fixture|switchboard)__/.test(n));
      // Nothing of goose's own (shell, write, extensionmanager, …: formats/goose.ts).
      expect(offered).toEqual(gateway);
      expect(gateway, offered.join(' ')).toContain('github__get_pr');
      expect(gateway).toContain('switchboard__task_complete');
      expect(gateway.filter((n) => n.startsWith('github__'))).toEqual(['github__get_pr']);
      // The webhook's trigger narrows the task to github: no fixture server at all.
      expect(gateway.filter((n) => n.startsWith('fixture__'))).toEqual([]);
    }
    // The tool result the model saw came from the gateway (the fake GitHub's PR).
    const toolResults = turns[1]!.body.messages.filter((m) => m.role === 'tool');
    expect(JSON.stringify(toolResults)).toContain('Add dark mode');

    // The context: preamble, session history and the skill github/review inlined, from
    // ~/.config/goose/.goosehints into goose's system message, once; the prompt (the trigger's
    // message) is the user's message, without the preamble.
    const messages = turns[0]!.body.messages;
    const system = messages
      .filter((m) => m.role === 'system')
      .map(messageText)
      .join('\n');
    expect(system, system.slice(-3_000)).toContain(`${REVIEW}. Read it with github:get_pr.`);
    expect(system).toContain('## Session history');
    expect(system).toContain('"role":"integration","content":"PR #42 opened by @ada');
    // The skill's body inlined (goose has no skills folder of its own to point at).
    expect(system).toContain('## Skill github/review\n\n# Reviewing a pull request');
    expect(JSON.stringify(messages).split(REVIEW)).toHaveLength(2);
    const user = messages.filter((m) => m.role === 'user').map(messageText);
    expect(user[0]).toMatch(/^PR #42 opened by @ada: Add dark mode/);
    expect(seen.find((e) => e.type === 'task:context')?.data).toMatchObject({
      into: 'files',
      files: ['.config/goose/.goosehints'],
      preamble: true,
      skills: ['github/review'],
      refused: [],
    });

    // Dispatched: the github dispatcher posted the answer on the PR.
    const comments = await until('the PR comment', async () => github.comments.get('acme/api#42'));
    expect(comments).toHaveLength(1);
    expect(comments[0]).toContain(REVIEW_ANSWER);

    // The API task: its `--quiet` prompt reached the model as text, its preamble once, and
    // task_complete's result stands over goose's last answer.
    const api = await ended('the task_complete task', async () => {
      const [row] = await gw().sql<{ status: string; result: string | null }[]>`
        select status, result from tasks where id = ${apiId}`;
      return row && ['complete', 'failed'].includes(row.status) ? row : undefined;
    });
    expect(api, JSON.stringify(await eventsOf(apiId))).toEqual({
      status: 'complete',
      result: COMPLETE_RESULT,
    });
    const apiTurns = model.turns(API_PREAMBLE);
    expect(apiTurns.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(apiTurns[0]!.body.messages)).toContain(API_PROMPT);
    expect(JSON.stringify(apiTurns[0]!.body.messages).split(API_PREAMBLE)).toHaveLength(2);
  }, 240_000);

  // Regression: goose exits 0 when its model cannot be reached, and the task completed with
  // goose's "Network error" notice as its result (and dispatched it).
  it('a model goose cannot reach: the task fails with agent_failed and the notice, never completes with it', async () => {
    const created = await fetch(`${gw().url}/api/v1/tasks`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ profile: 'goose-offline', prompt: 'Say hello.' }),
    });
    expect(created.status).toBe(201);
    const id = ((await created.json()) as Json).task.id as string;
    const task = await ended('the offline task', async () => {
      const [row] = await gw().sql<Json[]>`
        select status, reason, error, result from tasks where id = ${id}`;
      return row && ['complete', 'failed'].includes(row.status as string) ? row : undefined;
    });
    expect(task).toMatchObject({ status: 'failed', reason: 'agent_failed', result: null });
    expect(String(task.error)).toMatch(/^Network error: /);
  }, 120_000);
});
