/**
 * The goose preset's output parser (presets/goose-stream.ts) on lines the real goose 1.52.0
 * printed with `--output-format stream-json` (test/fixtures/agent-output/goose-*.jsonl,
 * captured from agent-goose.test.ts and a hand run against an unreachable provider), then on
 * what an agent could print instead.
 */

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { goosePreset } from '../../gateway/src/runners/presets/goose.ts';
import { gooseStreamParser } from '../../gateway/src/runners/presets/goose-stream.ts';
import {
  ANSWER_MAX,
  EVENT_INPUT_MAX,
  EVENT_TEXT_MAX,
} from '../../gateway/src/runners/presets/output-bounds.ts';
import type { AgentEvent } from '../../gateway/src/runners/presets/preset.ts';
import { runOutcome } from '../../gateway/src/tasks/run-outcome.ts';
import { REPO_ROOT } from '../helpers/gateway.ts';

const sample = (name: string) =>
  fs
    .readFileSync(path.join(REPO_ROOT, 'test/fixtures/agent-output', name), 'utf8')
    .split('\n')
    .filter((l) => l !== '');

/** Runs every line through one parser: the events, and the lines it left as output. */
function parse(lines: string[]) {
  const parser = gooseStreamParser();
  const events: AgentEvent[] = [];
  const kept: string[] = [];
  for (const line of lines) {
    const out = parser.line(line);
    if (out === undefined) kept.push(line);
    else events.push(...out);
  }
  return { events, kept, answer: parser.finalAnswer(), failure: parser.failure?.() };
}

const message = (id: string, role: string, content: unknown[], inference = true) =>
  JSON.stringify({
    type: 'message',
    message: {
      id,
      role,
      created: 1,
      content,
      metadata: inference ? { inference: { provider: 'openai', requestedModel: 'gpt-4o' } } : {},
    },
  });
const text = (t: string) => ({ type: 'text', text: t });
const complete = '{"type":"complete","input_tokens":1,"output_tokens":2}';

describe('goose stream-json output (real 1.52.0 lines)', () => {
  it('a review: the MCP call and its result, the streamed answer whole, the usage', () => {
    const { events, kept, answer } = parse(sample('goose-review.jsonl'));
    const REVIEW = 'PR #42 "Add dark mode" looks good to me: a small, focused theme change.';
    expect(events).toEqual([
      {
        type: 'task:agent_tool',
        data: {
          phase: 'call',
          id: 'call_5',
          name: 'github__get_pr',
          input: JSON.stringify({ repo: 'acme/api', number: 42 }),
        },
      },
      {
        type: 'task:agent_tool',
        data: {
          phase: 'result',
          id: 'call_5',
          isError: false,
          text: '#42 Add dark mode [open] by @ada\nhttps://github.com/acme/api/pull/42\n\nA theme.',
        },
      },
      // Two chunk lines of one message id: one event with the whole text.
      { type: 'task:assistant', data: { text: REVIEW } },
      {
        type: 'task:usage',
        data: {
          ok: true,
          inputTokens: 240,
          outputTokens: 60,
          cacheReadTokens: 0,
          cacheCreationTokens: 0,
          costUsd: 0.0012,
        },
      },
    ]);
    expect(kept).toEqual([]);
    expect(answer).toBe(REVIEW);
  });

  it('task_complete, then a short answer', () => {
    const { events, answer } = parse(sample('goose-complete.jsonl'));
    expect(events.map((e) => [e.type, e.data.phase ?? e.data.text ?? e.data.ok])).toEqual([
      ['task:agent_tool', 'call'],
      ['task:agent_tool', 'result'],
      ['task:assistant', 'Reported.'],
      ['task:usage', true],
    ]);
    expect(events[0]!.data.name).toBe('switchboard__task_complete');
    expect(answer).toBe('Reported.');
  });

  // Regression: goose exits 0 here, and its notice was the answer, so the task completed and
  // dispatched "Network error: …" as its result.
  it("an unreachable model: goose's own notice (no inference metadata) is the run's failure, not an answer; usage not ok", () => {
    const { events, answer, failure } = parse(sample('goose-network-error.jsonl'));
    expect(answer).toBeUndefined();
    expect(failure).toMatch(/^Network error: Could not connect to 127\.0\.0\.1:1/);
    expect(events.at(-1)).toMatchObject({
      type: 'task:usage',
      data: { ok: false, error: failure, inputTokens: 0, outputTokens: 0 },
    });
    const outcome = runOutcome(
      { reason: 'exited', exitCode: 0, signal: null, stdoutTail: '', failure: failure! },
      60_000,
    );
    expect(outcome).toEqual({ kind: 'fail', reason: 'agent_failed', error: failure });
  });

  it('a run that reached its model has no failure', () => {
    expect(parse(sample('goose-review.jsonl')).failure).toBeUndefined();
    expect(parse(sample('goose-complete.jsonl')).failure).toBeUndefined();
  });

  it('is the preset\'s parser, on the preset\'s "stream-json" command line', () => {
    expect(goosePreset.args).toContain('stream-json');
    expect(goosePreset.output().line(complete)).toEqual([
      { type: 'task:usage', data: { ok: true, inputTokens: 1, outputTokens: 2 } },
    ]);
  });
});

describe('goose stream-json output: what an agent could print instead', () => {
  it('lines that are not the format are left as output, never thrown on', () => {
    const odd = [
      '    __( O)>  ● new session · openai gpt-4o',
      '{not json',
      '[1,2]',
      'null',
      '{"type":"notification","extension_id":"x"}',
      '{"type":"message"}',
      '{"type":"message","message":"text"}',
    ];
    const { events, kept, answer } = parse(odd);
    expect(events).toEqual([]);
    expect(kept).toEqual(odd);
    expect(answer).toBeUndefined();
  });

  it('odd values make bounded events, not throws', () => {
    const { events } = parse([
      message('m1', 'assistant', [
        { type: 'toolRequest', id: 7, toolCall: { status: 'success', value: { name: 3 } } },
        { type: 'toolRequest', id: 'c2', toolCall: { status: 'error', error: { code: -32602 } } },
        { type: 'toolRequest', id: 'c3', toolCall: null },
        { type: 'thinking', thinking: 'hmm' },
        null,
      ]),
      message('u1', 'user', [
        { type: 'toolResponse', id: 'c1', toolResult: { status: 'error', error: 'denied' } },
        {
          type: 'toolResponse',
          id: 'c4',
          toolResult: {
            status: 'success',
            value: { isError: true, content: [{ type: 'image' }, 5] },
          },
        },
        text('a user text makes no event'),
      ]),
    ]);
    expect(events).toEqual([
      { type: 'task:agent_tool', data: { phase: 'call', id: '', name: '', input: '{}' } },
      {
        type: 'task:agent_tool',
        data: { phase: 'result', id: 'c2', isError: true, text: '{"code":-32602}' },
      },
      {
        type: 'task:agent_tool',
        data: { phase: 'result', id: 'c3', isError: true, text: '"unknown error"' },
      },
      {
        type: 'task:agent_tool',
        data: { phase: 'result', id: 'c1', isError: true, text: 'denied' },
      },
      {
        type: 'task:agent_tool',
        data: { phase: 'result', id: 'c4', isError: true, text: '[image]\n' },
      },
    ]);
  });

  it('text before a tool call is said in order and is no answer; a run that ends on a call has none', () => {
    const { events, answer } = parse([
      message('m1', 'assistant', [text('Let me look.')]),
      message('m1', 'assistant', [
        { type: 'toolRequest', id: 'c1', toolCall: { status: 'success', value: { name: 't' } } },
      ]),
      complete,
    ]);
    expect(events.map((e) => e.type)).toEqual(['task:assistant', 'task:agent_tool', 'task:usage']);
    expect(answer).toBeUndefined();
    // The last message's text counts, not an earlier one's; finalAnswer ends an open message.
    const parser = gooseStreamParser();
    parser.line(message('a', 'assistant', [text('first')]));
    parser.line(message('b', 'assistant', [text('sec')]));
    parser.line(message('b', 'assistant', [text('ond')]));
    expect(parser.finalAnswer()).toBe('second');
  });

  it('long texts are cut: assistant text, tool input and result, the final answer', () => {
    const big = 'x'.repeat(ANSWER_MAX);
    const { events, answer } = parse([
      message('m1', 'assistant', [
        {
          type: 'toolRequest',
          id: 'c1',
          toolCall: { status: 'success', value: { name: 'n'.repeat(1_000), arguments: { big } } },
        },
      ]),
      message('u1', 'user', [
        {
          type: 'toolResponse',
          id: 'c1',
          toolResult: { status: 'success', value: { content: [text(big)] } },
        },
      ]),
      // 30 chunks of 64 KiB each: the answer stops growing at its bound.
      ...Array.from({ length: 30 }, () => message('m2', 'assistant', [text(big)])),
      complete,
    ]);
    expect((events[0]!.data.name as string).length).toBe(257);
    expect((events[0]!.data.input as string).length).toBe(EVENT_INPUT_MAX + 1);
    expect((events[1]!.data.text as string).length).toBe(EVENT_TEXT_MAX + 1);
    expect((events[2]!.data.text as string).length).toBe(EVENT_TEXT_MAX + 1);
    expect(answer?.length).toBe(ANSWER_MAX + 1);
  });
});
