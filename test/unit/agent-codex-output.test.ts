/**
 * The Codex preset's output parser (presets/codex-json.ts) on lines the real Codex CLI 0.171.0
 * printed (test/fixtures/agent-output/codex-*.jsonl, captured from agent-codex.test.ts and
 * hand runs against the fake Responses API), then on what an agent could print instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { codexJsonParser } from '../../gateway/src/runners/presets/codex-json.ts';
import {
  ANSWER_MAX,
  EVENT_INPUT_MAX,
  EVENT_TEXT_MAX,
} from '../../gateway/src/runners/presets/output-bounds.ts';
import type { AgentEvent } from '../../gateway/src/runners/presets/preset.ts';
import { REPO_ROOT } from '../helpers/gateway.ts';

const sample = (name: string) =>
  fs
    .readFileSync(path.join(REPO_ROOT, 'test/fixtures/agent-output', name), 'utf8')
    .split('\n')
    .filter((l) => l !== '');

/** Runs every line through one parser: the events, and the lines it left as output. */
function parse(lines: string[]) {
  const parser = codexJsonParser();
  const events: AgentEvent[] = [];
  const kept: string[] = [];
  for (const line of lines) {
    const out = parser.line(line);
    if (out === undefined) kept.push(line);
    else events.push(...out);
  }
  return { events, kept, answer: parser.finalAnswer() };
}

describe('codex --json output (real 0.171.0 lines)', () => {
  it('a review: the MCP call and its result, the message as the answer, the usage', () => {
    const { events, kept, answer } = parse(sample('codex-review.jsonl'));
    expect(events).toEqual([
      {
        type: 'task:agent_tool',
        data: {
          phase: 'call',
          id: 'item_1',
          name: 'mcp__github__get_pr',
          input: JSON.stringify({ repo: 'acme/api', number: 42 }),
        },
      },
      {
        type: 'task:agent_tool',
        data: {
          phase: 'result',
          id: 'item_1',
          name: 'mcp__github__get_pr',
          isError: false,
          text: '#42 Add dark mode [open] by @ada\nhttps://github.com/acme/api/pull/42\n\nA theme.',
        },
      },
      {
        type: 'task:agent_tool',
        data: expect.objectContaining({ phase: 'call', name: 'mcp__switchboard__task_complete' }),
      },
      {
        type: 'task:agent_tool',
        data: {
          phase: 'result',
          id: 'item_2',
          name: 'mcp__switchboard__task_complete',
          isError: false,
          text: 'recorded; the task completes when you exit',
        },
      },
      { type: 'task:assistant', data: { text: 'Review posted through task_complete.' } },
      {
        type: 'task:usage',
        data: {
          ok: true,
          inputTokens: 360,
          outputTokens: 90,
          cacheReadTokens: 0,
          reasoningTokens: 0,
        },
      },
    ]);
    // Codex's own notice (a model without metadata) stays an output line.
    expect(kept).toHaveLength(1);
    expect(kept[0]).toContain('Model metadata for `fake-model` not found');
    expect(answer).toBe('Review posted through task_complete.');
  });

  it('a resource read through the gateway is a tool result with the resource text', () => {
    const { events } = parse(sample('codex-resource.jsonl'));
    const read = events.find(
      (e) => e.data.phase === 'result' && e.data.name === 'mcp__fixture__read_mcp_resource',
    );
    expect(read?.data.isError).toBe(false);
    expect(read?.data.text).toContain('This is the content of the static text resource.');
  });

  it('a shell command: its command, its output and a non-zero exit as an error', () => {
    const { events, answer } = parse(sample('codex-shell.jsonl'));
    expect(events.slice(0, 2)).toEqual([
      {
        type: 'task:agent_tool',
        data: {
          phase: 'call',
          id: 'item_1',
          name: 'exec_command',
          input: "/bin/bash -lc 'echo hi-from-shell; exit 3'",
        },
      },
      {
        type: 'task:agent_tool',
        data: {
          phase: 'result',
          id: 'item_1',
          name: 'exec_command',
          isError: true,
          text: 'hi-from-shell\n',
        },
      },
    ]);
    expect(answer).toBe('ran it');
  });

  it('a refused MCP call is an error result; a failed turn leaves no answer', () => {
    const { events, kept, answer } = parse(sample('codex-failures.jsonl'));
    expect(events.find((e) => e.data.phase === 'result')?.data).toMatchObject({
      name: 'mcp__switchboard__task_complete',
      isError: true,
      text: 'MCP tool call requires approval, but approval policy is never',
    });
    expect(events.at(-1)).toEqual({
      type: 'task:usage',
      data: {
        ok: false,
        error: expect.stringContaining('unexpected status 404 Not Found'),
      },
    });
    // The "Reconnecting…" and status notices stay visible as output lines.
    expect(kept).toHaveLength(2);
    expect(answer).toBeUndefined();
  });
});

describe('codex --json output: what an agent could print instead', () => {
  it('lines that are not the format are left as output, never thrown on', () => {
    const parser = codexJsonParser();
    for (const line of [
      '',
      'plain text',
      '{',
      '{"type": 1}',
      '[1,2]',
      'null',
      '{"no_type": true}',
      '{"type":"item.completed"}',
      '{"type":"item.started","item":"text"}',
      '{"type":"a.type.of.a.later.version"}',
      '{"type":"error","message":"Reconnecting..."}',
      `{"type":"item.completed","item":{"type":"agent_message","text":${'['.repeat(5000)}`,
    ])
      expect(parser.line(line)).toBeUndefined();
    expect(parser.finalAnswer()).toBeUndefined();
  });

  it('odd values make bounded events, not throws', () => {
    const parser = codexJsonParser();
    const item = (fields: Record<string, unknown>) =>
      JSON.stringify({ type: 'item.completed', item: { id: 'x', ...fields } });
    expect(parser.line(item({ type: 'mcp_tool_call', server: 7, tool: null }))).toEqual([
      {
        type: 'task:agent_tool',
        data: { phase: 'result', id: 'x', name: 'mcp____', isError: false, text: '' },
      },
    ]);
    expect(
      parser.line(item({ type: 'mcp_tool_call', result: { content: [{ type: 'image' }, 5] } })),
    ).toMatchObject([{ data: { text: '[image]\n' } }]);
    expect(parser.line(item({ type: 'agent_message', text: 42 }))).toEqual([]);
    expect(parser.line(item({ type: 'reasoning', text: 'thinking' }))).toEqual([]);
    expect(
      parser.line(JSON.stringify({ type: 'turn.completed', usage: { input_tokens: 'many' } })),
    ).toEqual([{ type: 'task:usage', data: { ok: true } }]);
    expect(parser.line(JSON.stringify({ type: 'turn.failed' }))).toEqual([
      { type: 'task:usage', data: { ok: false, error: '' } },
    ]);
  });

  it('long texts are cut: assistant text, tool input and result, the final answer', () => {
    const parser = codexJsonParser();
    const long = 'a'.repeat(200_000);
    const [assistant] = parser.line(
      JSON.stringify({ type: 'item.completed', item: { type: 'agent_message', text: long } }),
    )!;
    expect((assistant!.data.text as string).length).toBe(EVENT_TEXT_MAX + 1);
    expect(parser.finalAnswer()!.length).toBe(ANSWER_MAX + 1);
    const [call] = parser.line(
      JSON.stringify({
        type: 'item.started',
        item: { type: 'mcp_tool_call', server: 's'.repeat(10_000), tool: 't', arguments: { long } },
      }),
    )!;
    expect((call!.data.input as string).length).toBe(EVENT_INPUT_MAX + 1);
    expect((call!.data.name as string).length).toBeLessThanOrEqual(301);
    const [result] = parser.line(
      JSON.stringify({
        type: 'item.completed',
        item: {
          type: 'mcp_tool_call',
          result: {
            content: Array.from({ length: 1000 }, () => ({ type: 'text', text: 'b'.repeat(500) })),
          },
        },
      }),
    )!;
    expect((result!.data.text as string).length).toBe(EVENT_TEXT_MAX + 1);
  });

  it('a 10 MB line is not parsed (kept as output, cut by the sink); a flood stays bounded', () => {
    const parser = codexJsonParser();
    const huge = JSON.stringify({
      type: 'item.completed',
      item: { type: 'agent_message', text: 'x'.repeat(10 * 1024 * 1024) },
    });
    expect(parser.line(huge)).toBeUndefined();
    expect(parser.finalAnswer()).toBeUndefined();
    // 50,000 messages: every event is bounded and the parser keeps one answer, not a history.
    let biggest = 0;
    for (let i = 0; i < 50_000; i++) {
      const events = parser.line(
        JSON.stringify({ type: 'item.completed', item: { type: 'agent_message', text: `m${i}` } }),
      )!;
      biggest = Math.max(biggest, JSON.stringify(events).length);
    }
    expect(biggest).toBeLessThan(EVENT_TEXT_MAX + 200);
    expect(parser.finalAnswer()).toBe('m49999');
  });
});
