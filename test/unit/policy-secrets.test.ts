import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../policy/src/index.ts';

// `profiles.<name>.secrets` (issue 15): names only, validated with the file, field and what was
// expected; a name also in the profile's plain-text runner.env is an error.
const policy = (secrets: string, env = '{}') => `apiVersion: switchboard/policy/v1
profiles:
  claude:
    runner: { driver: process, command: claude, env: ${env} }
    secrets: ${secrets}
`;
const errors = (text: string) => {
  const result = parsePolicy(text, 'policy.yaml');
  if (result.ok) throw new Error('expected the policy to be refused');
  return result.errors.map((e) => `${e.path}: ${e.message}`);
};

describe('policy profiles.<name>.secrets', () => {
  it('parses a list of names; a profile without one has none', () => {
    const result = parsePolicy(policy('[ANTHROPIC_API_KEY, OPENAI_BASE_URL]'), 'policy.yaml');
    expect(result.ok && result.policy.profiles.claude?.secrets).toEqual([
      'ANTHROPIC_API_KEY',
      'OPENAI_BASE_URL',
    ]);
  });

  it('refuses a name also in runner.env, saying where the value should go', () => {
    expect(
      errors(policy('[ANTHROPIC_API_KEY]', '{ ANTHROPIC_API_KEY: sk-in-plain-text }')),
    ).toEqual([
      'profiles.claude.secrets[0]: found "ANTHROPIC_API_KEY", expected a name not also in runner.env (ANTHROPIC_API_KEY is set there in plain text; remove it from runner.env and set it with: switchboard profiles secrets set <profile> ANTHROPIC_API_KEY)',
    ]);
  });

  it('refuses bad, reserved and repeated names, and more than 32', () => {
    const found = errors(
      policy('[lower_case, HOME, SWITCHBOARD_TOKEN, DOCKER_HOST, HTTPS_PROXY, KEY_A, KEY_A]'),
    );
    expect(found).toHaveLength(6);
    expect(found[0]).toContain(
      'secrets[0]: found "lower_case", expected an environment variable name',
    );
    for (const i of [1, 2, 3, 4])
      expect(found.find((f) => f.includes(`secrets[${i}]`))).toContain(
        'expected a name the gateway does not set itself',
      );
    expect(found.find((f) => f.includes('secrets[6]'))).toContain(
      'expected a unique name (secrets[5] is already KEY_A)',
    );
    const many = Array.from({ length: 33 }, (_, i) => `KEY_${i}`).join(', ');
    expect(errors(policy(`[${many}]`))).toEqual([
      expect.stringContaining('profiles.claude.secrets: found'),
    ]);
    expect(errors(policy(`[${many}]`))[0]).toContain('expected at most 32 secrets');
    expect(errors(policy('{ ANTHROPIC_API_KEY: sk-value }'))[0]).toContain(
      'expected a list of environment variable names',
    );
  });
});
