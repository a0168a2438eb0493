/**
 * Argument rules (guards/argument-rules.ts) through real MCP: the policy file of the harness
 * holds the rules (loaded by the registry like any policy), the guard reads the registry's
 * currentPolicy(), real stdio upstreams, both eras. Allowed, denied with the rule's message,
 * profile-scoped, an evaluation error denies, and a reloaded policy's rules take over.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { argumentRulesGuard } from '../../gateway/src/guards/argument-rules.ts';
import { useMigratedDatabase } from '../helpers/database.ts';
import {
  clientTracker,
  connectV1,
  connectV2,
  grant,
  type Harness,
  startHarness,
} from '../helpers/mcp-harness.ts';

const runner = { driver: 'process', command: 'true' };
const RULES = [
  {
    name: 'acme-repos-only',
    tools: ['probe:sleep'],
    when: 'args.repo.startsWith("acme/")',
    message: 'sleeps only on acme repositories',
  },
  {
    name: 'triage-short-sleeps',
    tools: ['probe:*'],
    profiles: ['triage'],
    when: 'tool != "sleep" || args.ms <= 5',
  },
  {
    name: 'labels-clean',
    tools: ['probe:sleep'],
    when: '!has(args.labels) || !args.labels.exists(l, l == "security")',
    message: 'no security labels',
  },
];

describe('argument rules through MCP (policy rules:)', () => {
  const database = useMigratedDatabase();
  const clients = clientTracker();
  let h: Harness;
  let policyFile: string;

  beforeAll(async () => {
    const guards = [argumentRulesGuard({ policy: () => h.registry.currentPolicy() })];
    h = await startHarness(
      database,
      {},
      { guards, policy: { profiles: { triage: { runner }, build: { runner } }, rules: RULES } },
    );
    h.grants.set('triage', grant('triage', ['*:*'], null, 'triage'));
    h.grants.set('build', grant('build', ['*:*'], null, 'build'));
    h.grants.set('external', grant('external', ['probe:*']));
    policyFile = h.policyPath;
  });
  afterAll(async () => {
    await clients.closeAll();
    await h?.close();
  });

  const text = (result: unknown) =>
    ((result as { content?: Array<{ text?: string }> }).content ?? [])[0]?.text;

  it('allows a call every matching rule holds for, on both eras and both endpoints', async () => {
    for (const era of ['modern', 'legacy'] as const) {
      const client = clients.track(await connectV2(h.url(), 'build', era));
      const result = await client.callTool({
        name: 'probe__sleep',
        arguments: { ms: 1, repo: 'acme/widgets', labels: ['bug'] },
      });
      expect(result.isError).toBeFalsy();
    }
    const v1 = clients.track(await connectV1(h.url('probe'), 'build'));
    const result = await v1.callTool({ name: 'sleep', arguments: { ms: 1, repo: 'acme/w' } });
    expect(result.isError).toBeFalsy();
  });

  it('denies with the rule’s name and message, records it, and never calls the upstream', async () => {
    const client = clients.track(await connectV2(h.url(), 'build', 'modern'));
    const eventsBefore = h.events.length;
    // Ten minutes of sleep if forwarded: the refusal comes back at once.
    const denied = await client.callTool({
      name: 'probe__sleep',
      arguments: { ms: 600_000, repo: 'evil/widgets' },
    });
    expect(denied).toMatchObject({ isError: true });
    expect(text(denied)).toBe('rule acme-repos-only: sleeps only on acme repositories');
    const labelled = await client.callTool({
      name: 'probe__sleep',
      arguments: { ms: 600_000, repo: 'acme/w', labels: ['bug', 'security'] },
    });
    expect(text(labelled)).toBe('rule labels-clean: no security labels');
    await new Promise((r) => setTimeout(r, 20));
    expect(h.events.slice(eventsBefore)).toMatchObject([
      {
        tool: 'sleep',
        ok: false,
        error: 'argument_rule_denied: rule acme-repos-only: sleeps only on acme repositories',
      },
      {
        tool: 'sleep',
        ok: false,
        error: 'argument_rule_denied: rule labels-clean: no security labels',
      },
    ]);
    const v1 = clients.track(await connectV1(h.url('probe'), 'build'));
    const direct = await v1.callTool({ name: 'sleep', arguments: { ms: 600_000, repo: 'x/y' } });
    expect(text(direct)).toBe('rule acme-repos-only: sleeps only on acme repositories');
  });

  it('a profile-scoped rule judges only tasks of its profiles', async () => {
    const args = { ms: 30, repo: 'acme/widgets' };
    const triage = clients.track(await connectV2(h.url(), 'triage', 'modern'));
    const refused = await triage.callTool({ name: 'probe__sleep', arguments: args });
    expect(text(refused)).toBe('rule triage-short-sleeps: the call’s arguments do not satisfy it');
    const build = clients.track(await connectV2(h.url(), 'build', 'modern'));
    expect((await build.callTool({ name: 'probe__sleep', arguments: args })).isError).toBeFalsy();
    // A task without a profile is not of "triage" either.
    const external = clients.track(await connectV2(h.url(), 'external', 'modern'));
    expect(
      (await external.callTool({ name: 'probe__sleep', arguments: args })).isError,
    ).toBeFalsy();
    // The rule's other tools: tool != "sleep" holds, so whoami passes for triage.
    expect((await triage.callTool({ name: 'probe__whoami', arguments: {} })).isError).toBeFalsy();
  });

  it('an expression that cannot be evaluated (missing field, wrong type) denies', async () => {
    const client = clients.track(await connectV2(h.url(), 'build', 'legacy'));
    const missing = await client.callTool({ name: 'probe__sleep', arguments: { ms: 1 } });
    expect(text(missing)).toBe(
      'rule acme-repos-only: sleeps only on acme repositories (the rule could not be evaluated on these arguments: at 1:6: no such key (repo))',
    );
    const wrongType = await client.callTool({
      name: 'probe__sleep',
      arguments: { ms: 1, repo: 42 },
    });
    expect(text(wrongType)).toMatch(
      /^rule acme-repos-only: .*could not be evaluated.*no matching overload/,
    );
  });

  it('30 calls at once from several tasks: each judged on its own arguments', async () => {
    const build = clients.track(await connectV2(h.url(), 'build', 'modern'));
    const triage = clients.track(await connectV2(h.url(), 'triage', 'modern'));
    const calls = Array.from({ length: 30 }, (_, i) => {
      const client = i % 2 === 0 ? build : triage;
      const repo = i % 3 === 0 ? `evil/r${i}` : `acme/r${i}`;
      return client.callTool({ name: 'probe__sleep', arguments: { ms: 1, repo, n: i } });
    });
    const results = await Promise.all(calls);
    results.forEach((result, i) => {
      if (i % 3 === 0) {
        expect(text(result)).toBe('rule acme-repos-only: sleeps only on acme repositories');
      } else expect(result.isError, `call ${i}`).toBeFalsy();
    });
  });

  it('a reloaded policy’s rules replace the old ones (programs cached per policy)', async () => {
    const client = clients.track(await connectV2(h.url(), 'build', 'modern'));
    const call = () =>
      client.callTool({ name: 'probe__sleep', arguments: { ms: 1, repo: 'other/r' } });
    expect((await call()).isError).toBe(true);
    const policy = parse(fs.readFileSync(policyFile, 'utf8'));
    policy.rules = [{ ...RULES[0], when: 'args.repo.startsWith("other/")' }];
    fs.writeFileSync(policyFile, stringify(policy));
    await h.registry.reload('probe');
    expect((await call()).isError).toBeFalsy();
    const acme = await client.callTool({
      name: 'probe__sleep',
      arguments: { ms: 1, repo: 'acme/r' },
    });
    expect(text(acme)).toBe('rule acme-repos-only: sleeps only on acme repositories');
  });

  it('a policy whose rule does not compile does not load: file, rules[i].when and line:column', async () => {
    const policy = parse(fs.readFileSync(policyFile, 'utf8'));
    policy.rules = [{ ...RULES[0], when: 'args.repo.startsWith("acme/"' }];
    fs.writeFileSync(policyFile, stringify(policy));
    const probe = await h.registry.reload('probe');
    expect(probe?.state).toBe('refused');
    expect(probe?.reasons).toEqual([
      {
        code: 'policy_invalid',
        message: expect.stringContaining(
          `${policyFile}: rules[0].when: found "args.repo.startsWith(\\"acme/\\"", expected a valid CEL rule: at 1:29: Expected RPAREN, got EOF`,
        ),
      },
    ]);
    expect(h.registry.currentPolicy()).toBeUndefined();
    // Nothing gets through meanwhile: the refused integration has no tools.
    const client = clients.track(await connectV2(h.url(), 'build', 'modern'));
    await expect(
      client.callTool({ name: 'probe__sleep', arguments: { ms: 1, repo: 'acme/r' } }),
    ).rejects.toThrow(/not found|Unknown tool/i);
  });
});
