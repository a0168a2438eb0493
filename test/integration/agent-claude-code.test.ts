/**
 * Issue 15 end to end with the real Claude Code CLI (pinned, installed by the test into
 * .cache/agent-clis) against a fake Anthropic API (test/fixtures/fake-models/anthropic.ts):
 *  - a GitHub-signed `pull_request` delivery starts a task whose profile is `agent:
 *    claude-code` (no command or args in the profile: the preset's); Claude calls
 *    `mcp__github__get_pr` through the gateway with the task's token, then answers; the answer
 *    (no task_complete) is the task's result and the github dispatcher posts it on the PR;
 *  - a task through the API whose prompt starts with `--dangerously-skip-permissions` reaches
 *    the model as text (stdin, never argv), reads a resource of the `fixture` integration
 *    (ReadMcpResourceTool) through the gateway and ends with task_complete, whose result stands.
 * Both run at once on one gateway. The model is offered the granted tools only: the webhook's
 * task sees github's get_pr (not list_issues or comment) and no fixture tool at all.
 * The task's context reaches the model where Claude Code reads it (tasks/agent-context.ts):
 * the trigger's preamble and the session history from `~/.claude/CLAUDE.md`, once, the prompt
 * itself untouched; the trigger's skill `github/review` as `github-review` among the skills.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CLAUDE_BUILT_IN_TOOLS } from '../../gateway/src/runners/presets/claude-code.ts';
import { type FakeAnthropic, startFakeAnthropic } from '../fixtures/fake-models/anthropic.ts';
import { agentCliSuite } from '../helpers/agent-clis.ts';
import { sendPullRequestOpened, taskEvents } from '../helpers/agent-e2e.ts';
import { type ByName, byName } from '../helpers/by-name.ts';
import { type FakeGitHub, startFakeGitHub } from '../helpers/fake-github.ts';
import { ADMIN_KEY, REPO_ROOT, runSwitchboard, useTestGateway } from '../helpers/gateway.ts';
import { until } from '../helpers/until.ts';

/** The fake GitHub by name through the egress proxy: set once it listens, before the gateway starts. */
let viaProxy: ByName;
const gatewayEnv: Record<string, string> = {};

const GITHUB_TOKEN = 'ghp_claude_e2e_0123456789';
const GITHUB_SECRET = 'claude-e2e-github-secret';
const REVIEW = 'Review pull request #42 in acme/api';
const REVIEW_ANSWER = 'PR #42 "Add dark mode" looks good to me: a small, focused theme change.';
const DASHES = '--dangerously-skip-permissions';
const COMPLETE_RESULT = 'Closed the loop through task_complete.';
const API_PREAMBLE = 'Operator note 7f3a: answer in one line.';

const { installed, suite, title } = await agentCliSuite(
  'claude',
  'Claude Code',
  'agent-claude-code.test.ts',
);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-claude-e2e-'));
// At the top level: a skipped suite runs none of its own hooks.
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const policyFile = path.join(tmp, 'policy.yaml');

// biome-ignore lint/suspicious/noExplicitAny: API answers and events are read loosely here
type Json = Record<string, any>;

suite(title, () => {
  let github: FakeGitHub;
  let model: FakeAnthropic;
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
    model = await startFakeAnthropic([
      {
        match: REVIEW,
        steps: [
          { tool: 'mcp__github__get_pr', input: { repo: 'acme/api', number: 42 } },
          { text: REVIEW_ANSWER },
        ],
      },
      {
        match: DASHES,
        steps: [
          { tool: 'ReadMcpResourceTool', input: { server: 'fixture', uri: 'test://static-text' } },
          { tool: 'mcp__switchboard__task_complete', input: { result: COMPLETE_RESULT } },
          { text: 'Reported.' },
        ],
      },
    ]);
    // The profile names the agent and its credentials only: command, args and stdin are the
    // preset's. github:get_pr only, although the webhook's trigger asks for three tools.
    fs.writeFileSync(
      policyFile,
      `apiVersion: switchboard/policy/v1
integrations:
  github:
    enabled: true
    grants: [webhooks, dispatch, schedules, sessions.write, http.outbound, documents]
    outboundHosts: [api.github.com]
${viaProxy.policy}    profile: claude
    settings:
      GITHUB_TOKEN: ${GITHUB_TOKEN}
      GITHUB_WEBHOOK_SECRET: ${GITHUB_SECRET}
      GITHUB_API_URL: ${viaProxy.url}
  fixture:
    enabled: true
    grants: []
tokens: { defaultTtl: 15m, maxTtl: 2h }
profiles:
  claude:
    agent: claude-code
    runner:
      driver: process
      env:
        ANTHROPIC_BASE_URL: ${model.url}
        ANTHROPIC_API_KEY: sk-ant-fake-for-tests
    tools: ["github:get_pr", "fixture:*"]
    timeout: 3m
`,
    );
  });
  afterAll(async () => {
    await github?.close();
    await model?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  // `claude` on the gateway's PATH, as an operator installs it: the preset names it bare.
  const gw = useTestGateway(
    Object.assign(gatewayEnv, {
      INTEGRATION_DIRS: path.join(REPO_ROOT, 'servers'),
      SWITCHBOARD_POLICY: policyFile,
    }),
    installed.ok ? { PATH: `${path.dirname(installed.bin)}:${process.env.PATH}` } : {},
  );
  const auth = { authorization: `Bearer ${ADMIN_KEY}` };

  const eventsOf = (taskId: string) => taskEvents(gw().url, taskId);

  it('webhook → claude-code task → get_pr through the gateway → answer as result → PR comment; a `--` prompt with task_complete at once', async () => {
    const deliveryId = await sendPullRequestOpened(gw().url, GITHUB_SECRET);
    // The second task, started while the first one runs.
    const created = await fetch(`${gw().url}/api/v1/tasks`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({
        profile: 'claude',
        prompt: `${DASHES} then report back.`,
        // fixture has no skills folder: refused by name in task:context, the task runs anyway.
        execution: { preamble: API_PREAMBLE, skills: ['fixture/anything'] },
      }),
    });
    expect(created.status).toBe(201);
    const dashesId = ((await created.json()) as Json).task.id as string;

    const review = await until('the review task', async () => {
      const [row] = await gw().sql<{ id: string; status: string; result: string | null }[]>`
        select id::text, status, result from tasks where delivery_id = ${deliveryId}`;
      return row && ['complete', 'failed'].includes(row.status) ? row : undefined;
    });
    const seen = await eventsOf(review.id);
    expect(review.status, JSON.stringify(seen)).toBe('complete');
    // The final answer of the stream-json `result` line, not the raw stdout.
    expect(review.result).toBe(REVIEW_ANSWER);

    // The call went through the gateway, scoped to the task: its task:tool_use, the upstream.
    const call = seen.find((e) => e.type === 'task:tool_use');
    expect(call?.data).toMatchObject({ integration: 'github', tool: 'get_pr', ok: true });
    expect(github.calls.some((c) => c.path === '/repos/acme/api/pulls/42')).toBe(true);
    // The agent's steps, from its stream-json output.
    const types = seen.map((e) => e.type);
    // (task:tool_use is the gateway's, written in its own 200 ms batches: not ordered with these.)
    const order = ['task:started', 'task:agent_tool', 'task:assistant', 'task:usage', 'task:done'];
    const positions = order.map((t) => types.indexOf(t));
    expect(
      positions.every((p) => p >= 0),
      JSON.stringify(types),
    ).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(seen.find((e) => e.type === 'task:agent_tool')?.data).toMatchObject({
      phase: 'call',
      name: 'mcp__github__get_pr',
      input: JSON.stringify({ repo: 'acme/api', number: 42 }),
    });
    const result = seen.find((e) => e.type === 'task:agent_tool' && e.data.phase === 'result');
    expect(result?.data).toMatchObject({ isError: false });
    expect(result?.data.text).toContain('Add dark mode');
    expect(seen.find((e) => e.type === 'task:assistant')?.data).toEqual({ text: REVIEW_ANSWER });
    expect(seen.find((e) => e.type === 'task:usage')?.data).toMatchObject({
      ok: true,
      inputTokens: expect.any(Number),
      outputTokens: expect.any(Number),
    });

    // What the model was offered: the task's tools, none out of its scope.
    const turns = model.turns(REVIEW);
    expect(turns.length).toBeGreaterThanOrEqual(2);
    for (const turn of turns) {
      const offered = (turn.body.tools as Array<{ name: string }>).map((t) => t.name);
      const mcp = offered.filter((n) => n.startsWith('mcp__'));
      // Of Claude Code's built-in tools only Skill and the MCP resource readers (`--tools`;
      // those two only when a server has resources): no Bash, Read, Write, WebFetch, nothing
      // that runs code or reads a file.
      const builtIn = offered.filter((n) => !n.startsWith('mcp__'));
      expect(builtIn).toContain('Skill');
      expect(builtIn.filter((n) => !CLAUDE_BUILT_IN_TOOLS.includes(n))).toEqual([]);
      expect(mcp).toContain('mcp__github__get_pr');
      expect(mcp).toContain('mcp__switchboard__task_complete');
      expect(mcp.filter((n) => n.startsWith('mcp__github__'))).toEqual(['mcp__github__get_pr']);
      expect(
        mcp.every((n) => /^mcp__(github|switchboard)__/.test(n)),
        mcp.join(' '),
      ).toBe(true);
    }
    // The tool result the model saw came from the gateway.
    const toolResults = JSON.stringify(
      turns
        .at(-1)!
        .body.messages.flatMap((m: Json) =>
          Array.isArray(m.content) ? m.content.filter((b: Json) => b.type === 'tool_result') : [],
        ),
    );
    expect(toolResults).toContain('Add dark mode');

    // The context: the preamble and the session history from ~/.claude/CLAUDE.md, in the first
    // user message, once; the prompt (the trigger's message) after it, without the preamble.
    const first = turns[0]!.body.messages[0].content as Json[];
    const texts = first.map((b) => (typeof b.text === 'string' ? b.text : ''));
    const memory = texts.find((t) => t.includes('.claude/CLAUDE.md'));
    expect(memory, JSON.stringify(texts).slice(0, 2_000)).toContain(`${REVIEW}. Read it with`);
    expect(memory).toContain('## Session history');
    expect(memory).toContain(
      '"role":"integration","content":"PR #42 opened by @ada: Add dark mode',
    );
    expect(JSON.stringify(turns[0]!.body).split(REVIEW)).toHaveLength(2);
    expect(texts.at(-1)).toMatch(/^PR #42 opened by @ada: Add dark mode/);
    // The skill github/review (servers/github/skills/review.md) among the model's skills.
    expect(JSON.stringify(turns[0]!.body)).toContain(
      '- github-review: How to review a GitHub pull request',
    );
    const context = seen.find((e) => e.type === 'task:context');
    expect(context?.data).toMatchObject({
      into: 'files',
      files: ['.claude/CLAUDE.md', '.claude/skills/github-review/SKILL.md'],
      preamble: true,
      skills: ['github/review'],
      refused: [],
    });

    // Dispatched: the github dispatcher posted the answer on the PR.
    const comments = await until('the PR comment', async () => github.comments.get('acme/api#42'));
    expect(comments).toHaveLength(1);
    expect(comments[0]).toContain(REVIEW_ANSWER);

    // The `--` prompt: text to the model (on stdin), and task_complete's result stands.
    const dashes = await until('the task_complete task', async () => {
      const [row] = await gw().sql<{ status: string; result: string | null }[]>`
        select status, result from tasks where id = ${dashesId}`;
      return row && ['complete', 'failed'].includes(row.status) ? row : undefined;
    });
    expect(dashes).toEqual({ status: 'complete', result: COMPLETE_RESULT });
    const dashTurns = model.turns(DASHES);
    expect(JSON.stringify(dashTurns[0]!.body.messages)).toContain(`${DASHES} then report back.`);
    expect(JSON.stringify(dashTurns[0]!.body.messages).split(API_PREAMBLE)).toHaveLength(2);
    const dashEvents = await eventsOf(dashesId);
    expect(dashEvents.find((e) => e.type === 'task:context')?.data).toMatchObject({
      files: ['.claude/CLAUDE.md'],
      historyMessages: 0,
      skills: [],
      refused: [{ skill: 'fixture/anything', reason: 'no_skills' }],
    });
    // Its resource read (ReadMcpResourceTool) went to the fixture through the gateway.
    expect(JSON.stringify(dashTurns[1]!.body.messages)).toContain(
      'This is the content of the static text resource.',
    );

    // `switchboard task watch` renders the agent's steps readably.
    const watch = await runSwitchboard(['task', 'watch', review.id], {
      SWITCHBOARD_URL: gw().url,
      SWITCHBOARD_API_KEY: ADMIN_KEY,
    });
    expect(watch.code, watch.stderr).toBe(0);
    expect(watch.stdout).toContain(
      'agent calls mcp__github__get_pr {"repo":"acme/api","number":42}',
    );
    expect(watch.stdout).toContain(`assistant: ${REVIEW_ANSWER}`);
    expect(watch.stdout).toMatch(/usage: \d+ in, \d+ out/);
  }, 240_000);
});
