import {
  combineBudgets,
  formatSize,
  guardPatternMatches,
  parsePolicy,
  parseSize,
} from '@switchboard/policy';
import { describe, expect, it } from 'vitest';
import { describeBudget } from '../../gateway/src/cli/task-watch.ts';
import { callLimits } from '../../gateway/src/guards/budgets.ts';

const profileWith = (budget: string) => `apiVersion: switchboard/policy/v1
profiles:
  triage:
    runner: { driver: process, command: "true" }
    tools: ["github:*"]
    budget: ${budget}
`;

function parsed(budget: string) {
  const result = parsePolicy(profileWith(budget), 'policy.yaml');
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.policy.profiles.triage?.budget;
}

function errorsOf(budget: string): Array<[string, string]> {
  const result = parsePolicy(profileWith(budget), 'policy.yaml');
  if (result.ok) return [];
  return result.errors.map((e) => [e.path, e.message]);
}

describe('profiles.<name>.budget', () => {
  it('parses the documented example: counts, patterns, bytes and milliseconds', () => {
    expect(
      parsed(
        '{ toolCalls: 200, perTool: { "github:comment": 5, "*:delete_*": 0 }, upstreamBytes: 50MB, wallTime: 30m }',
      ),
    ).toEqual({
      toolCalls: 200,
      perTool: { 'github:comment': 5, '*:delete_*': 0 },
      upstreamBytes: 50_000_000,
      wallTimeMs: 1_800_000,
    });
    expect(parsed('{ upstreamBytes: 64KiB }')).toEqual({ upstreamBytes: 65_536 });
    expect(parsed('{ upstreamBytes: 1000 }')).toEqual({ upstreamBytes: 1000 });
  });

  it('says which field is wrong and what was expected', () => {
    expect(errorsOf('{ toolCalls: 2.5 }')).toEqual([
      [
        'profiles.triage.budget.toolCalls',
        'found 2.5, expected a whole number of calls from 0 to 1000000',
      ],
    ]);
    expect(errorsOf('{ upstreamBytes: 50M }')[0]?.[1]).toContain(
      'a size such as 512KB, 50MB, 1GB (or 64KiB, 50MiB, 1GiB)',
    );
    expect(errorsOf('{ wallTime: 2d }')[0]).toEqual([
      'profiles.triage.budget.wallTime',
      expect.stringContaining('expected a duration such as 30s, 15m, 2h or 1h30m'),
    ]);
    expect(errorsOf('{ perTool: { "github": 1 } }')[0]?.[1]).toContain(
      'a tool pattern integration:tool',
    );
    expect(errorsOf('{ perTool: { "github:*x": 1 } }')).toHaveLength(1);
    expect(errorsOf('{}')[0]?.[1]).toBe(
      'found a mapping, expected at least one limit: toolCalls, perTool, upstreamBytes or wallTime',
    );
    expect(errorsOf('{ calls: 5 }')[0]?.[1]).toBe(
      'found unknown key "calls", expected one of toolCalls, perTool, upstreamBytes, wallTime',
    );
  });
});

describe('sizes', () => {
  it('read units exactly and write the shortest exact form', () => {
    expect(parseSize('512KB')).toBe(512_000);
    expect(parseSize('1GiB')).toBe(1024 ** 3);
    expect(parseSize('10B')).toBe(10);
    for (const bad of ['50M', '1.5MB', '-1MB', 'MB', '', '1 MB', -1, 1.5]) {
      expect(parseSize(bad), String(bad)).toBeUndefined();
    }
    expect(formatSize(50_000_000)).toBe('50MB');
    expect(formatSize(52_428_800)).toBe('50MiB');
    expect(formatSize(1234)).toBe('1234B');
  });
});

describe('budget patterns and combining', () => {
  it('a pattern names tools by name, *, or a prefix ending in *', () => {
    expect(guardPatternMatches('*:delete_*', 'github', 'delete_branch')).toBe(true);
    expect(guardPatternMatches('*:delete_*', 'github', 'undelete_x')).toBe(false);
    expect(guardPatternMatches('git*:get_*', 'github', 'get_pr')).toBe(true);
    expect(guardPatternMatches('github:comment', 'github', 'comments')).toBe(false);
    expect(
      callLimits(
        { toolCalls: 9, perTool: { 'github:*': 4, '*:comment': 1, 'x:y': 2 } },
        {
          integration: 'github',
          tool: 'comment',
        },
      ),
    ).toEqual({
      toolCalls: 9,
      patterns: ['github:*', '*:comment'],
      patternMaxes: [4, 1],
      upstreamBytes: null,
      wallTimeMs: null,
    });
  });

  it('the smaller of each limit wins; a limit either sets applies', () => {
    expect(
      combineBudgets(
        { toolCalls: 200, perTool: { 'github:comment': 5 }, wallTimeMs: 60_000 },
        { toolCalls: 500, perTool: { 'github:comment': 9, '*:delete_*': 0 }, upstreamBytes: 10 },
      ),
    ).toEqual({
      toolCalls: 200,
      perTool: { 'github:comment': 5, '*:delete_*': 0 },
      upstreamBytes: 10,
      wallTimeMs: 60_000,
    });
    expect(combineBudgets(undefined, { toolCalls: 1 })).toEqual({ toolCalls: 1 });
    expect(combineBudgets(undefined, undefined)).toBeUndefined();
  });

  it('task watch writes the use against each limit', () => {
    expect(
      describeBudget({
        limits: {
          toolCalls: 20,
          perTool: { 'echo:sleep': 3 },
          upstreamBytes: 2000,
          wallTimeMs: 1_800_000,
        },
        calls: 20,
        perTool: { 'echo:sleep': 3 },
        upstreamBytes: 1834,
        exceeded: ['toolCalls', 'perTool:echo:sleep'],
      }),
    ).toBe(
      'budget: 20/20 tool calls, echo:sleep 3/3, 1834/2000 upstream bytes, wall time 30m (exceeded: toolCalls, perTool:echo:sleep)',
    );
  });
});
