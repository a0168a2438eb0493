/**
 * Argument rules (policy/src/argument-rules.ts): what a `when:` may say, the errors the policy
 * load gives (file, path, line:column), and what an evaluation answers (an error denies).
 */
import { formatManifestErrors } from '@switchboard/sdk';
import { describe, expect, it } from 'vitest';
import {
  compileArgumentRule,
  countValuesUpTo,
  evaluateArgumentRule,
  MAX_RULE_LENGTH,
  parsePolicy,
  type RuleVariables,
} from '../../policy/src/index.ts';

const compileError = (expression: string) => {
  const result = compileArgumentRule(expression);
  if (result.ok) throw new Error(`expected ${expression} not to compile`);
  return result.message;
};

const verdict = (expression: string, args: Record<string, unknown>, more = {}) => {
  const result = compileArgumentRule(expression);
  if (!result.ok) throw new Error(result.message);
  const variables: RuleVariables = {
    args,
    integration: 'github',
    tool: 'comment',
    profile: 'triage',
    ...more,
  };
  return evaluateArgumentRule(result.rule, variables);
};

describe('compileArgumentRule', () => {
  it('names the problem and its line:column', () => {
    expect(compileError('args.repo.startsWith("acme/"')).toBe('at 1:29: Expected RPAREN, got EOF');
    expect(compileError('argz.repo == "x"')).toBe('at 1:1: Unknown variable: argz');
    expect(compileError('args.a == 1 &&\n  1 + "a" == 2')).toBe(
      'at 2:3: no such overload: int + string',
    );
    expect(compileError('args.repo ==')).toMatch(/^at 1:13: /);
  });

  it('wants true or false', () => {
    expect(compileError('1 + 2')).toBe(
      'expected an expression that is true or false (this one is int)',
    );
    expect(compileError('"text"')).toMatch(/this one is string/);
  });

  it('sees only args, integration, tool and profile: nothing of the gateway', () => {
    for (const name of ['process', 'env', 'secrets', 'globalThis', 'require', 'session']) {
      expect(compileError(`${name}.x == "y"`)).toBe(`at 1:1: Unknown variable: ${name}`);
    }
    for (const ok of [
      'integration == "github" && tool == "comment" && profile == "triage"',
      'args.repo.startsWith("acme/")',
    ]) {
      expect(compileArgumentRule(ok).ok).toBe(true);
    }
  });

  it('refuses what could cost more than linear in the arguments, pointing at it', () => {
    expect(compileError('args.title.matches("(a+)+$")')).toMatch(
      /^at 1:12: matches\(\) is not allowed in an argument rule/,
    );
    expect(compileError('cel.bind(s, args.body, s + s) == ""')).toMatch(
      /^at 1:5: bind\(\) is not allowed/,
    );
    expect(compileError('args.labels.map(l, l).size() > 0')).toMatch(/^at 1:13: map\(\) is not/);
    expect(compileError('args.labels.filter(l, l == "a").size() > 0')).toMatch(/filter\(\)/);
    expect(compileError('args.a.all(x, args.b.exists(y, y == x))')).toBe(
      "at 1:15: a quantifier's predicate may read only its own variable, not args (the cost would grow with the square of the arguments)",
    );
    expect(compileError('args.a.all(x, x.tags.exists(t, t == x.name))')).toMatch(
      /^at 1:37: .*not x/,
    );
    // Nested quantifiers over the element itself stay linear: allowed.
    expect(
      compileArgumentRule('args.items.all(i, i.tags.exists(t, t == "x" && tool == "comment"))').ok,
    ).toBe(true);
  });

  it('bounds the size of an expression', () => {
    expect(compileError(`args.a == "${'x'.repeat(MAX_RULE_LENGTH)}"`)).toMatch(
      /^expected at most 1000 characters/,
    );
    const many = Array.from({ length: 80 }, (_, i) => `args.a${i} == ${i}`).join(' && ');
    expect(many.length).toBeLessThan(MAX_RULE_LENGTH * 2);
    expect(compileError(many.slice(0, MAX_RULE_LENGTH - 20).replace(/ && [^&]*$/, ''))).toMatch(
      /Exceeded maxAstNodes \(200\)/,
    );
    expect(compileError(`${'('.repeat(40)}true${')'.repeat(40)}`)).toMatch(/maxDepth \(32\)/);
  });
});

describe('evaluateArgumentRule', () => {
  it('true allows, false denies', () => {
    expect(verdict('args.repo.startsWith("acme/")', { repo: 'acme/widgets' })).toEqual({
      allowed: true,
    });
    expect(verdict('args.repo.startsWith("acme/")', { repo: 'evil/acme/' })).toEqual({
      allowed: false,
    });
  });

  it('JSON numbers compare with CEL ints and doubles; lists, maps, has() and in', () => {
    const args = {
      issue: 42,
      ratio: 0.5,
      labels: ['bug', 'p2'],
      meta: { draft: false, reviewers: ['ann', 'bob'] },
    };
    for (const expression of [
      'args.issue == 42 && args.issue > 10 && args.ratio < 1.0',
      '"bug" in args.labels && size(args.labels) == 2',
      '!args.meta.draft && args.meta.reviewers.all(r, r.size() == 3)',
      'has(args.meta.draft) && !has(args.meta.merged) && "issue" in args',
      'args.labels.exists_one(l, l.startsWith("p"))',
    ]) {
      expect(verdict(expression, args), expression).toEqual({ allowed: true });
    }
  });

  it('size() counts code points of strings (by the fast count), elements of lists and maps', () => {
    const args = {
      emoji: '😀a\u{1F600}\u{1F600}b',
      lone: '\ud800x',
      list: [1, 2, 3],
      map: { a: 1, b: 2 },
    };
    for (const expression of [
      'size(args.emoji) == 5 && args.emoji.size() == 5',
      'size(args.lone) == 2',
      'size(args.list) == 3 && args.list.size() == 3',
      'size(args.map) == 2 && args.map.size() == 2',
      'size("héllo") == 5',
    ]) {
      expect(verdict(expression, args), expression).toEqual({ allowed: true });
    }
    expect(compileError('size(1) == 1')).toBe("at 1:1: found no matching overload for 'size(int)'");
    expect(compileError('fastSize(args.a) == 1')).toMatch(/fastSize\(\) is not allowed/);
  });

  it('an error denies, and says why (fail closed)', () => {
    expect(verdict('args.repo.startsWith("acme/")', {})).toEqual({
      allowed: false,
      error: 'at 1:6: no such key (repo)',
    });
    expect(verdict('args.repo.startsWith("acme/")', { repo: 7 })).toEqual({
      allowed: false,
      error: 'at 1:1: no matching overload (args.repo.startsWith("acme/"))',
    });
    expect(verdict('args.repo', { repo: 'acme/x' })).toEqual({
      allowed: false,
      error: 'the expression gave string, not true or false',
    });
    // || does not rescue an error on its left unless the right is true (CEL's commutative logic).
    expect(verdict('args.nope == 1 || args.repo == "a"', { repo: 'a' })).toEqual({
      allowed: true,
    });
    expect(verdict('args.nope == 1 || args.repo == "a"', { repo: 'b' }).allowed).toBe(false);
  });

  it('an error names the failing part of the expression, never an argument’s value', () => {
    const args = { key: 'SECRET-KEY', value: 'SECRET-VALUE', map: { a: 1 } };
    for (const [expression, error] of [
      ['args.map[args.key] == 1', 'at 1:1: no such key (args.map[args.key])'],
      ['bool(args.value)', 'at 1:1: bool conversion error (bool(args.value))'],
      ['int(args.value) == 1', 'at 1:1: int conversion error (int(args.value))'],
    ] as const) {
      const result = verdict(expression, args);
      expect(result, expression).toEqual({ allowed: false, error });
      expect(JSON.stringify(result)).not.toContain('SECRET');
    }
  });

  it('reads only own properties of the arguments', () => {
    for (const key of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(verdict(`args.${key} == args.${key}`, {}).allowed, key).toBe(false);
    }
    const inherited = Object.create({ repo: 'acme/x' }) as Record<string, unknown>;
    expect(verdict('args.repo == "acme/x"', inherited).allowed).toBe(false);
  });
});

describe('countValuesUpTo', () => {
  it('counts elements and members at every depth, and stops past the bound', () => {
    expect(countValuesUpTo({}, 10)).toBe(0);
    expect(countValuesUpTo({ a: 1, b: [1, 2, { c: 'x' }], d: { e: null } }, 100)).toBe(8);
    const wide = Array.from({ length: 1_000_000 }, () => [1]);
    // Stops at the first array that takes it past the bound, without walking that array.
    expect(countValuesUpTo({ wide }, 10)).toBeLessThanOrEqual(11 + 1_000_000);
    expect(countValuesUpTo({ wide }, 10)).toBeGreaterThan(10);
    expect(countValuesUpTo({ list: Array.from({ length: 50 }, (_, i) => ({ i })) }, 1_000)).toBe(
      101,
    );
  });
});

describe('rules: in the policy', () => {
  const policy = (rules: string) =>
    parsePolicy(
      `apiVersion: switchboard/policy/v1
profiles:
  triage: { runner: { driver: process, command: "true" } }
rules:
${rules}`,
      'policy/test.yaml',
    );

  it('parses a rule with its defaults', () => {
    const result = policy(`  - name: acme-repos-only
    tools: ["github:comment", "github:*"]
    profiles: [triage]
    when: 'args.repo.startsWith("acme/")'
    message: comments only on acme repositories`);
    expect(result).toMatchObject({
      ok: true,
      policy: {
        rules: [
          {
            name: 'acme-repos-only',
            tools: ['github:comment', 'github:*'],
            profiles: ['triage'],
            when: 'args.repo.startsWith("acme/")',
            message: 'comments only on acme repositories',
          },
        ],
      },
    });
    expect(parsePolicy('apiVersion: switchboard/policy/v1\n', 'p.yaml')).toMatchObject({
      ok: true,
      policy: { rules: [] },
    });
  });

  it('fails with the file, the path and the CEL error position', () => {
    const result = policy(`  - name: one
    tools: ["github:*"]
    when: 'true'
  - name: two
    tools: ["github:comment"]
    when: 'args.repo.startsWith("acme/"'
  - name: one
    tools: ["github:create*_pr", "github:comment"]
    profiles: [nightly]
    when: |
      args.title != "" &&
        argz.body == ""
    extra: 1`);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(formatManifestErrors(result.errors).split('\n')).toEqual([
      'policy/test.yaml: rules[1].when: found "args.repo.startsWith(\\"acme/\\"", expected a valid CEL rule: at 1:29: Expected RPAREN, got EOF',
      'policy/test.yaml: rules[2].tools[0]: found "github:create*_pr", expected a tool pattern integration:tool, either side a name, * or a prefix ending in * (e.g. github:comment, *:delete_*)',
      'policy/test.yaml: rules[2].when: found "args.title != \\"\\" &&\\n  argz.body == \\"\\"\\n", expected a valid CEL rule: at 2:3: Unknown variable: argz',
      'policy/test.yaml: rules[2].extra: found unknown key "extra", expected one of name, tools, profiles, when, message',
      'policy/test.yaml: rules[2].name: found "one", expected a unique rule name (rules[0].name is already "one")',
      'policy/test.yaml: rules[2].profiles[0]: found "nightly", expected a profile defined under profiles (defined: triage)',
    ]);
  });

  it('checks names, profiles, tools and the message', () => {
    const result = policy(`  - name: one
    tools: []
    when: 'true'
  - name: one
    tools: ["github:*"]
    profiles: [nightly]
    when: 'true'
    message: ""`);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(formatManifestErrors(result.errors).split('\n')).toEqual([
      'policy/test.yaml: rules[0].tools: found an empty list, expected at least one tool pattern (e.g. github:comment)',
      'policy/test.yaml: rules[1].message: found "", expected a message shown to the agent when the rule denies a call',
      'policy/test.yaml: rules[1].name: found "one", expected a unique rule name (rules[0].name is already "one")',
      'policy/test.yaml: rules[1].profiles[0]: found "nightly", expected a profile defined under profiles (defined: triage)',
    ]);
  });

  it('at most 100 rules', () => {
    const rules = Array.from(
      { length: 101 },
      (_, i) => `  - { name: r${i}, tools: ["github:*"], when: "true" }`,
    ).join('\n');
    const result = policy(rules);
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(formatManifestErrors(result.errors)).toContain('expected at most 100 rules');
  });
});
