/**
 * Approval rules in the policy (policy/src/approval-rules.ts, docs/policy.md "approvals"): the
 * defaults, and the errors a load gives with the file and path.
 */
import { formatManifestErrors } from '@switchboard/sdk';
import { describe, expect, it } from 'vitest';
import { DEFAULT_APPROVAL_TIMEOUT_MS, parsePolicy } from '../../policy/src/index.ts';

const policy = (approvals: string) =>
  parsePolicy(
    `apiVersion: switchboard/policy/v1
profiles:
  triage: { runner: { driver: process, command: "true" } }
approvals:
${approvals}`,
    'policy/test.yaml',
  );

const errors = (approvals: string) => {
  const result = policy(approvals);
  if (result.ok) throw new Error('expected the policy to fail');
  return formatManifestErrors(result.errors).split('\n');
};

describe('policy approvals', () => {
  it('parses rules with their defaults: a 10 minute timeout, every profile, every call', () => {
    const result = policy(`  - { name: comments, tools: ["github:comment"] }
  - name: deletes
    tools: ["*:delete_*"]
    profiles: [triage]
    when: 'args.repo.startsWith("acme/")'
    timeout: 1h30m
    message: a person reviews every delete`);
    expect(result).toMatchObject({
      ok: true,
      policy: {
        approvals: [
          { name: 'comments', tools: ['github:comment'], timeout: DEFAULT_APPROVAL_TIMEOUT_MS },
          {
            name: 'deletes',
            tools: ['*:delete_*'],
            profiles: ['triage'],
            when: 'args.repo.startsWith("acme/")',
            timeout: 5_400_000,
            message: 'a person reviews every delete',
          },
        ],
      },
    });
    expect(DEFAULT_APPROVAL_TIMEOUT_MS).toBe(600_000);
  });

  it('names the file, the path and what was expected', () => {
    expect(
      errors(`  - { name: one, tools: [] }
  - { name: two, tools: ["github"], timeout: 25h }
  - { name: three, tools: ["github:comment"], when: 'argz.x == 1', timeout: 90 }
  - { name: four, tools: ["github:comment"], approve: true }`),
    ).toEqual([
      'policy/test.yaml: approvals[0].tools: found an empty list, expected at least one tool pattern (e.g. github:comment or *:delete_*)',
      'policy/test.yaml: approvals[1].tools[0]: found "github", expected a tool pattern integration:tool, either side a name, * or a prefix ending in * (e.g. github:comment, *:delete_*)',
      'policy/test.yaml: approvals[1].timeout: found "25h", expected at most 24h',
      'policy/test.yaml: approvals[2].when: found "argz.x == 1", expected a valid CEL rule: at 1:1: Unknown variable: argz',
      'policy/test.yaml: approvals[2].timeout: found 90, expected a duration such as 30s, 15m, 2h or 1h30m',
      'policy/test.yaml: approvals[3].approve: found unknown key "approve", expected one of name, tools, profiles, when, timeout, message',
    ]);
  });

  it('names must be unique and profiles defined (checked once the rules are well formed)', () => {
    expect(
      errors(`  - { name: one, tools: ["github:comment"] }
  - { name: one, tools: ["github:*"], profiles: [nightly] }`),
    ).toEqual([
      'policy/test.yaml: approvals[1].name: found "one", expected a unique rule name (approvals[0].name is already "one")',
      'policy/test.yaml: approvals[1].profiles[0]: found "nightly", expected a profile defined under profiles (defined: triage)',
    ]);
  });

  it('at most 100 approval rules', () => {
    const rules = Array.from(
      { length: 101 },
      (_, i) => `  - { name: r${i}, tools: ["github:*"] }`,
    ).join('\n');
    expect(errors(rules).join('\n')).toContain('expected at most 100 approval rules');
  });
});
