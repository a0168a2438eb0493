/**
 * Issue 15's agent presets: how `agent:` fills a profile's runner (and what the profile's own
 * fields replace), the command lines the drivers produce from it, and Claude Code's
 * stream-json parser on lines of the shape 2.1.332 prints.
 */
import { describe, expect, it } from 'vitest';
import { describeEvent } from '../../gateway/src/cli/task-watch.ts';
import { buildBundle } from '../../gateway/src/runners/bundle.ts';
import { DockerRunner } from '../../gateway/src/runners/docker.ts';
import { claudeCodePreset } from '../../gateway/src/runners/presets/claude-code.ts';
import { claudeStreamParser } from '../../gateway/src/runners/presets/claude-stream.ts';
import { AGENT_PRESETS, resolveRunner } from '../../gateway/src/runners/presets/index.ts';
import {
  ANSWER_MAX,
  EVENT_INPUT_MAX,
  EVENT_TEXT_MAX,
} from '../../gateway/src/runners/presets/output-bounds.ts';
import { expandArgs, placeholderValues } from '../../gateway/src/runners/runner.ts';
import { AGENT_NAMES, type Profile } from '../../policy/src/index.ts';

const bundle = buildBundle({
  publicUrl: 'http://gw.test:8080',
  taskId: 't12',
  sessionId: null,
  token: 'tok',
  integrations: [
    { name: 'github', url: 'http://gw.test:8080/mcp/github', token: 'tok-gh' },
    { name: 'notes-app', url: 'http://gw.test:8080/mcp/notes-app', token: 'tok-notes' },
  ],
  switchboardServer: { url: 'http://gw.test:8080/mcp/switchboard', token: 'tok-sb' },
});

type Pick2 = Pick<Profile, 'agent' | 'runner'>;
const process_ = (runner: Record<string, unknown> = {}, agent: Profile['agent'] = 'claude-code') =>
  ({ agent, runner: { driver: 'process', ...runner } }) as Pick2;

describe('resolveRunner', () => {
  it('without agent: the profile runner as it is', () => {
    const runner = { driver: 'process', command: 'x', args: ['y'] } as Profile['runner'];
    expect(resolveRunner({ runner })).toEqual({ runner });
  });

  it('agent: claude-code fills command, args, stdin and env; the profile env wins over the preset', () => {
    const { runner, preset } = resolveRunner(
      process_({ env: { ANTHROPIC_API_KEY: 'k', ENABLE_TOOL_SEARCH: 'true' } }),
    );
    expect(preset?.name).toBe('claude-code');
    expect(runner).toEqual({
      driver: 'process',
      command: 'claude',
      args: [
        '-p',
        '--output-format',
        'stream-json',
        '--verbose',
        '--mcp-config',
        '{mcp_json}',
        '--strict-mcp-config',
        '--allowedTools',
        '{claude_allowed_tools}',
        '--tools',
        'Skill,ListMcpResourcesTool,ReadMcpResourceTool',
      ],
      stdin: 'prompt',
      env: {
        ...claudeCodePreset.env,
        ANTHROPIC_API_KEY: 'k',
        ENABLE_TOOL_SEARCH: 'true',
      },
    });
    expect(claudeCodePreset.env).toMatchObject({
      ENABLE_TOOL_SEARCH: 'false',
      DISABLE_AUTOUPDATER: '1',
      DISABLE_TELEMETRY: '1',
    });
  });

  it("the profile's command, args and stdin each replace the preset's; args as a whole list", () => {
    const { runner } = resolveRunner(
      process_({ command: '/opt/claude/bin/claude', args: ['-p', '--model', 'x'], stdin: 'none' }),
    );
    expect(runner).toMatchObject({
      command: '/opt/claude/bin/claude',
      args: ['-p', '--model', 'x'],
      stdin: 'none',
    });
    expect(resolveRunner(process_({ args: [] })).runner).toMatchObject({
      command: 'claude',
      args: [],
    });
  });

  it('goose and generic: their command lines; generic needs its program', () => {
    expect(resolveRunner(process_({}, 'goose')).runner).toMatchObject({
      command: 'goose',
      args: [
        'run',
        '--no-session',
        '--quiet',
        '--output-format',
        'stream-json',
        '-i',
        '{prompt_file}',
      ],
      stdin: 'none',
    });
    expect(resolveRunner(process_({ command: 'my-agent' }, 'generic')).runner).toMatchObject({
      command: 'my-agent',
      args: ['{switchboard_json}', '{prompt_file}'],
      stdin: 'prompt',
    });
    expect(() => resolveRunner(process_({}, 'generic'))).toThrow(
      'runner.command: agent generic names no program; expected the one to start',
    );
  });

  it('every agent the policy schema accepts has a preset, under its own name', () => {
    for (const name of AGENT_NAMES) {
      expect(AGENT_PRESETS[name]?.name).toBe(name);
      const runner = name === 'generic' ? { command: 'x' } : {};
      expect(resolveRunner(process_(runner, name)).preset).toBe(AGENT_PRESETS[name]);
    }
  });

  it("extraArgs go after the preset's args (a model provider for codex), args replace them", () => {
    const resolved = resolveRunner(
      process_({ extraArgs: ['-c', 'model_provider="corp"'] }, 'codex'),
    ).runner;
    expect(resolved.args).toEqual([...AGENT_PRESETS.codex.args, '-c', 'model_provider="corp"']);
    expect('extraArgs' in resolved).toBe(false);
  });

  it('the allowed tools are exactly the bundle servers, one argv word', () => {
    const values = placeholderValues({ prompt: '--help me', bundle }, '/w');
    const args = expandArgs(claudeCodePreset.args, values);
    expect(args[args.indexOf('--allowedTools') + 1]).toBe(
      'mcp__switchboard,mcp__github,mcp__notes-app',
    );
    expect(args.slice(-2)).toEqual(['--tools', 'Skill,ListMcpResourcesTool,ReadMcpResourceTool']);
    expect(args).toContain('/w/.mcp.json');
    // stdin carries the prompt: no arg holds it.
    expect(args.some((a) => a.includes('help me'))).toBe(false);
  });
});

describe('the docker runner with agent: claude-code', () => {
  it("runs the image's claude with the preset's args, the prompt on stdin, no value of env in argv", () => {
    const { runner } = resolveRunner({
      agent: 'claude-code',
      runner: {
        driver: 'docker',
        image: 'ghcr.io/acme/switchboard-claude-code:2.1.332',
        env: { ANTHROPIC_API_KEY: 'sk-ant-secret' },
      },
    } as Pick2);
    const docker = new DockerRunner(runner as ConstructorParameters<typeof DockerRunner>[0], {
      hostEnv: { PATH: '/usr/bin', DATABASE_URL: 'postgres://secret' },
      user: '1000:1000',
    });
    const { argv, env } = docker.plan({
      prompt: '--dangerously-skip-permissions',
      bundle,
      workdir: '/tmp/task',
      timeoutMs: 60_000,
      onLine: () => {},
    });
    expect(argv).toContain('--interactive');
    const image = argv.indexOf('ghcr.io/acme/switchboard-claude-code:2.1.332');
    expect(argv.slice(image + 1)).toEqual([
      'claude',
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--mcp-config',
      '/workspace/.mcp.json',
      '--strict-mcp-config',
      '--allowedTools',
      'mcp__switchboard,mcp__github,mcp__notes-app',
      '--tools',
      'Skill,ListMcpResourcesTool,ReadMcpResourceTool',
    ]);
    expect(argv.join(' ')).not.toContain('sk-ant-secret');
    expect(argv.join(' ')).not.toContain('dangerously');
    expect(argv).toContain('ANTHROPIC_API_KEY');
    expect(argv).toContain('ENABLE_TOOL_SEARCH');
    expect(env).toMatchObject({ ANTHROPIC_API_KEY: 'sk-ant-secret', ENABLE_TOOL_SEARCH: 'false' });
    expect(env).not.toHaveProperty('DATABASE_URL');
  });
});

const line = (v: unknown) => JSON.stringify(v);

describe('Claude stream-json parser', () => {
  it('turns assistant text, tool calls, tool results and the result line into events', () => {
    const p = claudeStreamParser();
    expect(
      p.line(line({ type: 'system', subtype: 'init', tools: ['Bash'], mcp_servers: [] })),
    ).toEqual([]);
    expect(
      p.line(
        line({
          type: 'assistant',
          message: {
            content: [
              { type: 'text', text: 'Reading the PR.' },
              {
                type: 'tool_use',
                id: 'toolu_1',
                name: 'mcp__github__get_pr',
                input: { number: 42 },
              },
            ],
          },
        }),
      ),
    ).toEqual([
      { type: 'task:assistant', data: { text: 'Reading the PR.' } },
      {
        type: 'task:agent_tool',
        data: { phase: 'call', id: 'toolu_1', name: 'mcp__github__get_pr', input: '{"number":42}' },
      },
    ]);
    expect(
      p.line(
        line({
          type: 'user',
          message: {
            content: [
              {
                type: 'tool_result',
                tool_use_id: 'toolu_1',
                content: [{ type: 'text', text: '#42' }],
              },
            ],
          },
        }),
      ),
    ).toEqual([
      {
        type: 'task:agent_tool',
        data: { phase: 'result', id: 'toolu_1', isError: false, text: '#42' },
      },
    ]);
    expect(p.finalAnswer()).toBeUndefined();
    expect(
      p.line(
        line({
          type: 'result',
          subtype: 'success',
          is_error: false,
          result: 'All good.',
          num_turns: 2,
          total_cost_usd: 0.0002,
          duration_ms: 97,
          usage: { input_tokens: 22, output_tokens: 14, cache_read_input_tokens: 0 },
        }),
      ),
    ).toEqual([
      {
        type: 'task:usage',
        data: {
          ok: true,
          subtype: 'success',
          inputTokens: 22,
          outputTokens: 14,
          cacheReadTokens: 0,
          costUsd: 0.0002,
          turns: 2,
          durationMs: 97,
        },
      },
    ]);
    expect(p.finalAnswer()).toBe('All good.');
  });

  it('an error result is no answer; non-JSON and unknown lines stay output lines', () => {
    const p = claudeStreamParser();
    p.line(line({ type: 'result', subtype: 'error_max_turns', is_error: true, result: 'partial' }));
    expect(p.finalAnswer()).toBeUndefined();
    expect(p.line('Not logged in · Please run /login')).toBeUndefined();
    expect(p.line('{"type": "assistant", "message": ')).toBeUndefined();
    expect(p.line(line({ type: 'something_new' }))).toBeUndefined();
    expect(p.line('[1,2]')).toBeUndefined();
  });

  it('cuts every value it keeps', () => {
    const p = claudeStreamParser();
    const big = 'x'.repeat(200_000);
    const [text, call] = p.line(
      line({
        type: 'assistant',
        message: {
          content: [
            { type: 'text', text: big },
            { type: 'tool_use', id: 'i'.repeat(1000), name: 'n'.repeat(1000), input: { big } },
          ],
        },
      }),
    )!;
    expect((text!.data.text as string).length).toBe(EVENT_TEXT_MAX + 1);
    expect((call!.data.input as string).length).toBe(EVENT_INPUT_MAX + 1);
    expect((call!.data.name as string).length).toBe(257);
    const blocks = Array.from({ length: 5000 }, () => ({ type: 'text', text: 'a' }));
    expect(p.line(line({ type: 'assistant', message: { content: blocks } }))).toHaveLength(64);
    p.line(line({ type: 'result', subtype: 'success', result: 'y'.repeat(ANSWER_MAX * 2) }));
    expect(p.finalAnswer()).toHaveLength(ANSWER_MAX + 1);
  });
});

describe('task watch renders the agent events', () => {
  const at = '2026-12-04T19:00:00.123Z';
  const render = (type: string, data: Record<string, unknown>) =>
    describeEvent({ seq: '12', type, data, createdAt: at });

  it('assistant text on one line, cut at 200 characters; tool calls, results and usage', () => {
    expect(render('task:assistant', { text: 'Line one.\n\n  Line two.' })).toBe(
      '19:00:00.123 assistant: Line one. Line two.',
    );
    expect(render('task:assistant', { text: 'y'.repeat(500) })).toBe(
      `19:00:00.123 assistant: ${'y'.repeat(200)}…`,
    );
    expect(
      render('task:agent_tool', {
        phase: 'call',
        name: 'mcp__github__get_pr',
        input: '{"number":42}',
      }),
    ).toBe('19:00:00.123 agent calls mcp__github__get_pr {"number":42}');
    expect(render('task:agent_tool', { phase: 'result', isError: true, text: 'no such PR' })).toBe(
      '19:00:00.123 agent tool result (error): no such PR',
    );
    expect(
      render('task:usage', { inputTokens: 1200, outputTokens: 300, turns: 3, costUsd: 0.01234 }),
    ).toBe('19:00:00.123 usage: 1200 in, 300 out, 3 turns, $0.0123');
  });
});
