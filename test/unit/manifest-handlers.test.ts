import {
  dispatcherInputSchema,
  handlerResultSchema,
  scheduleInputSchema,
  validate,
  webhookInputSchema,
} from '@switchboard/sdk';
import { describe, expect, it } from 'vitest';

/** Errors as `path: message`, the way the gateway reports a bad handler result. */
function problems(schema: Parameters<typeof validate>[0], value: unknown): string[] {
  const result = validate(schema, value, 'github on_webhook result');
  return result.ok ? [] : result.errors.map((e) => `${e.path}: ${e.message}`);
}

describe('handler contracts (ARCHITECTURE §4 "Handler results")', () => {
  it('accepts the ARCHITECTURE example result and fills run: true', () => {
    const example = {
      triggers: [
        {
          session: {
            key: 'github:acme/api',
            dispatch: { type: 'github', config: { repo: 'acme/api', pr: 42 } },
          },
          message: 'PR #42 opened: Add dark mode',
          execution: {
            preamble: 'Review this PR…',
            tools: ['github:get_pr', 'github:comment'],
            skills: ['github/review'],
            model: 'some-model',
            profile: 'reviewer',
          },
        },
      ],
      response: { status: 200, body: { ok: true } },
    };
    const parsed = handlerResultSchema.parse(example);
    expect(parsed.triggers[0]?.run).toBe(true);
    expect(parsed.response).toEqual({ status: 200, body: { ok: true } });
    expect(handlerResultSchema.parse({ triggers: [] })).toEqual({ triggers: [] });
  });

  it('refuses a result with a misspelt key, a bad tool pattern or a bad status', () => {
    expect(
      problems(handlerResultSchema, {
        triggers: [
          {
            session: { key: 'k' },
            mesage: 'typo',
            execution: { tools: ['get_pr'] },
          },
        ],
        response: { status: 42 },
      }),
    ).toEqual([
      'triggers[0].message: missing, expected a non-empty message',
      'triggers[0].execution.tools[0]: found "get_pr", expected a tool pattern integration:tool, where either side may be * (e.g. github:get_pr, github:*)',
      'triggers[0].mesage: found unknown key "mesage", expected one of session, message, run, execution',
      'response.status: found 42, expected an HTTP status from 100 to 599',
    ]);
    expect(problems(handlerResultSchema, {})).toEqual([
      'triggers: missing, expected a list of triggers',
    ]);
  });

  it('checks webhook and schedule handler inputs, ignoring fields added later', () => {
    expect(
      webhookInputSchema.parse({
        endpoint: 'events',
        headers: { 'x-github-event': 'pull_request' },
        body: '{"action":"opened"}',
        deliveryId: 'd-1',
        addedInALaterVersion: true,
      }),
    ).toEqual({
      endpoint: 'events',
      headers: { 'x-github-event': 'pull_request' },
      body: '{"action":"opened"}',
      deliveryId: 'd-1',
    });
    expect(
      problems(webhookInputSchema, { endpoint: 'events', headers: {}, body: {}, deliveryId: 'd' }),
    ).toEqual(['body: found a mapping, expected a string']);
    expect(
      scheduleInputSchema.parse({ schedule: 'nightly', fireTime: '2026-01-05T06:00:00Z' }),
    ).toEqual({ schedule: 'nightly', fireTime: '2026-01-05T06:00:00Z' });
    expect(problems(scheduleInputSchema, { schedule: 'nightly', fireTime: 'tomorrow' })).toEqual([
      'fireTime: found "tomorrow", expected an ISO 8601 UTC time, e.g. 2026-01-05T06:00:00Z',
    ]);
  });

  it('checks dispatcher inputs', () => {
    const input = {
      task: { id: 't1', status: 'complete', result: { summary: 'LGTM' } },
      session: { id: 's1', key: 'github:acme/api' },
      dispatch: { type: 'github', config: { repo: 'acme/api', pr: 42 } },
    };
    expect(dispatcherInputSchema.parse(input)).toEqual(input);
    expect(
      problems(dispatcherInputSchema, { ...input, task: { id: 't1', status: 'done' } }),
    ).toEqual(['task.status: found "done", expected one of complete, failed']);
  });
});
