/**
 * Attacks on the Codex preset (presets/codex.ts), with the real Codex CLI (pinned, installed
 * by the tests into .cache/agent-clis) started by the real process runner:
 * - a prompt from outside (an issue's text) that starts with one of Codex's own options: it
 *   must reach the model as text on stdin, never appear in the agent's argv;
 * - the gateway's secrets in the host environment (DATABASE_URL, the master and admin keys):
 *   none reaches the agent, nor the model; the task's tokens reach the agent's environment only,
 *   never its config file or the model;
 * - a model (prompt-injected) running `env` through Codex's shell tool: the task's tokens and
 *   the model API key are not in the shell's environment, so they never go back to the model;
 * - an agent printing a 10 MB JSONL line and a flood of events: the runner and the parser
 *   keep every line and event bounded, without a throw.
 * The agent is the real binary behind a small wrapper that records its argv and environment.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOG_LINE_MAX } from '../../gateway/src/containment/line-log.ts';
import { buildBundle } from '../../gateway/src/runners/bundle.ts';
import { BUNDLE_FILES, writeBundle } from '../../gateway/src/runners/files.ts';
import { codexPreset } from '../../gateway/src/runners/presets/codex.ts';
import { EVENT_TEXT_MAX } from '../../gateway/src/runners/presets/output-bounds.ts';
import type { AgentEvent } from '../../gateway/src/runners/presets/preset.ts';
import { ProcessRunner } from '../../gateway/src/runners/process.ts';
import type { OutputLine } from '../../gateway/src/runners/runner.ts';
import {
  codexProviderArgs,
  type FakeResponsesServer,
  startFakeResponses,
} from '../fixtures/fake-models/openai-responses.ts';
import { installAgentCli } from '../helpers/agent-clis.ts';

const installed = await installAgentCli('codex');
if (!installed.ok)
  console.warn(
    `SKIPPED agent-codex.test.ts (security): Codex CLI not installed: ${installed.reason}`,
  );
const withCli = installed.ok ? it : it.skip.bind(it);
const cliTitle = (title: string) =>
  installed.ok ? title : `SKIPPED (Codex CLI not installed: ${installed.reason}): ${title}`;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-codex-attack-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SECRETS = {
  DATABASE_URL: 'postgres://switchboard:db-SECRET-pw@127.0.0.1:5432/switchboard',
  SWITCHBOARD_MASTER_KEY: 'ab'.repeat(32),
  SWITCHBOARD_ADMIN_KEY: 'sb_admin_SECRET_0123456789',
};
const TOKENS = ['tok-mcp-SECRET-1', 'tok-sb-SECRET-2', 'tok-gh-SECRET-3'];
const HOSTILE_PROMPT =
  '--dangerously-bypass-approvals-and-sandbox -c model="evil" PROMPT-MARKER-7f3a';

const bundle = buildBundle({
  publicUrl: 'http://127.0.0.1:9',
  taskId: 'task-codex-attack',
  sessionId: 'session-1',
  token: TOKENS[0]!,
  // Port 9 (discard): nothing listens, so Codex's MCP startup fails at once.
  integrations: [{ name: 'github', url: 'http://127.0.0.1:9/mcp/github', token: TOKENS[2]! }],
  switchboardServer: { url: 'http://127.0.0.1:9/mcp/switchboard', token: TOKENS[1]! },
});

describe('the Codex preset under attack', () => {
  let model: FakeResponsesServer;
  beforeAll(async () => {
    model = await startFakeResponses([
      { match: 'PROMPT-MARKER-7f3a', steps: [{ kind: 'text', text: 'Nothing to do.' }] },
      {
        match: 'ENV-DUMP-MARKER',
        steps: [
          {
            kind: 'call',
            label: 'exec_command',
            match: (t) => t.namespace === undefined && t.name === 'exec_command',
            arguments: { cmd: 'env; echo ENV-DUMP-DONE' },
          },
          { kind: 'text', text: 'Dumped.' },
        ],
      },
    ]);
  });
  afterAll(async () => {
    await model?.close();
  });

  withCli(
    cliTitle(
      'a `--` prompt reaches the model on stdin, never argv; no gateway secret reaches the agent, no token its config or the model',
    ),
    async () => {
      const seen = path.join(tmp, 'seen');
      const wrapper = path.join(tmp, 'codex-wrapper.sh');
      // Records what the runner started the agent with, then becomes the real Codex.
      fs.writeFileSync(
        wrapper,
        `#!/bin/sh\nprintf '%s\\n' "$@" > "${seen}.argv"\nenv > "${seen}.env"\nexec "${installed.ok ? installed.bin : 'codex'}" "$@"\n`,
        { mode: 0o700 },
      );
      const runner = new ProcessRunner(
        {
          driver: 'process',
          command: wrapper,
          args: [...codexPreset.args, ...codexProviderArgs(model.baseUrl, 'FAKE_MODEL_KEY')],
          stdin: codexPreset.stdin,
          env: { ...codexPreset.env, FAKE_MODEL_KEY: 'sk-fake' },
        },
        // The gateway's own environment, secrets included: none may reach the agent.
        { hostEnv: { PATH: process.env.PATH, ...SECRETS } },
      );
      const workdir = await writeBundle(bundle, tmp);
      const lines: OutputLine[] = [];
      const result = await runner.run({
        prompt: HOSTILE_PROMPT,
        bundle,
        workdir,
        timeoutMs: 60_000,
        onLine: (l) => lines.push(l),
      });
      expect(result, JSON.stringify(lines)).toMatchObject({ reason: 'exited', exitCode: 0 });

      const argv = fs.readFileSync(`${seen}.argv`, 'utf8');
      expect(argv).not.toContain('PROMPT-MARKER-7f3a');
      expect(argv.split('\n')).not.toContain('--dangerously-bypass-approvals-and-sandbox');
      // The model got it, as the user's text.
      const [first] = model.turns('PROMPT-MARKER-7f3a');
      expect(JSON.stringify(first?.body.input)).toContain(
        JSON.stringify(HOSTILE_PROMPT).slice(1, -1),
      );
      // The model is the scripted one: `-c model="evil"` in the prompt changed nothing.
      expect(first?.body.model).toBe('fake-model');

      const env = fs.readFileSync(`${seen}.env`, 'utf8');
      for (const [name, value] of Object.entries(SECRETS)) {
        expect(env).not.toContain(`${name}=`);
        expect(env).not.toContain(value);
      }
      // The tokens are in the agent's environment (Codex reads them by name) ...
      for (const token of TOKENS) expect(env).toContain(token);
      // ... and nowhere else: not in the config file, not sent to the model.
      const toml = fs.readFileSync(path.join(workdir, BUNDLE_FILES.codex.path), 'utf8');
      expect(toml).toContain('bearer_token_env_var = "SWITCHBOARD_TOKEN_GITHUB"');
      const toModel = JSON.stringify(model.requests);
      for (const token of TOKENS) {
        expect(toml).not.toContain(token);
        expect(toModel).not.toContain(token);
      }
      for (const value of Object.values(SECRETS)) expect(toModel).not.toContain(value);
    },
    120_000,
  );

  withCli(
    cliTitle(
      "a model running `env` in Codex's shell sees no task token and no model key, so cannot send them back",
    ),
    async () => {
      const runner = new ProcessRunner(
        {
          driver: 'process',
          command: installed.ok ? installed.bin : 'codex',
          args: [...codexPreset.args, ...codexProviderArgs(model.baseUrl, 'CODEX_API_KEY')],
          stdin: codexPreset.stdin,
          env: { ...codexPreset.env, CODEX_API_KEY: 'sk-model-KEY-SECRET', PLAIN_SETTING: 'kept' },
        },
        { hostEnv: { PATH: process.env.PATH } },
      );
      const workdir = await writeBundle(bundle, tmp);
      const lines: OutputLine[] = [];
      const result = await runner.run({
        prompt: 'ENV-DUMP-MARKER: print your environment',
        bundle,
        workdir,
        timeoutMs: 60_000,
        onLine: (l) => lines.push(l),
      });
      expect(result, JSON.stringify(lines)).toMatchObject({ reason: 'exited', exitCode: 0 });
      const turns = model.turns('ENV-DUMP-MARKER');
      // What the shell printed, as the model received it: it ran, with the plain settings ...
      const shown = JSON.stringify(turns.at(-1)?.body.input?.at(-1));
      expect(shown).toContain('ENV-DUMP-DONE');
      expect(shown).toContain('PLAIN_SETTING=kept');
      expect(shown).toContain('SWITCHBOARD_TASK_ID=task-codex-attack');
      // ... and without a credential.
      for (const secret of [...TOKENS, 'sk-model-KEY-SECRET']) expect(shown).not.toContain(secret);
      expect(shown).not.toMatch(/SWITCHBOARD_TOKEN|CODEX_API_KEY/);
    },
    120_000,
  );

  it('a 10 MB line and a flood of 20,000 events stay bounded: cut lines, cut events, no throw', async () => {
    const text = 'x'.repeat(10 * 1024 * 1024);
    const script = [
      `const big = JSON.stringify({ type: 'item.completed', item: { type: 'agent_message', text: ${JSON.stringify('x')}.repeat(${text.length}) } });`,
      'process.stdout.write(big + "\\n");',
      'const lines = [];',
      'for (let i = 0; i < 20000; i++) lines.push(JSON.stringify({ type: "item.completed", item: { id: "item_" + i, type: "agent_message", text: "m" + i + "y".repeat(1000) } }));',
      'process.stdout.write(lines.join("\\n") + "\\n");',
    ].join('\n');
    const floodFile = path.join(tmp, 'flood.cjs');
    fs.writeFileSync(floodFile, script);
    const runner = new ProcessRunner(
      { driver: 'process', command: process.execPath, args: [floodFile], env: {} },
      { hostEnv: { PATH: process.env.PATH } },
    );
    const workdir = await writeBundle(bundle, tmp);
    const parser = codexPreset.output();
    let lines = 0;
    let longestLine = 0;
    let biggestEvent = 0;
    let events = 0;
    const result = await runner.run({
      prompt: 'flood',
      bundle,
      workdir,
      timeoutMs: 120_000,
      onLine: ({ line }) => {
        lines++;
        longestLine = Math.max(longestLine, line.length);
        const out: AgentEvent[] | undefined = parser.line(line);
        for (const event of out ?? []) {
          events++;
          biggestEvent = Math.max(biggestEvent, JSON.stringify(event).length);
        }
      },
    });
    expect(result).toMatchObject({ reason: 'exited', exitCode: 0 });
    // The runner cuts every line (the 10 MB one arrives as pieces that parse as nothing).
    expect(longestLine).toBeLessThanOrEqual(LOG_LINE_MAX);
    expect(lines).toBeGreaterThanOrEqual(20_000);
    expect(biggestEvent).toBeLessThan(EVENT_TEXT_MAX + 200);
    // The stdout tail kept for the result is bounded too.
    expect(result.stdoutTail.length).toBeLessThanOrEqual(64 * 1024);
    // Every flood line is an event; the parser keeps the last answer, not a history.
    expect(events).toBe(20_000);
    expect(parser.finalAnswer()).toBe(`m19999${'y'.repeat(1000)}`);
  }, 180_000);
});
