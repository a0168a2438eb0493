/**
 * Argument rules as an attack surface, through the whole gateway (gateway.ts wires the guard,
 * the policy file below is loaded at boot like any operator's): a rule cannot be bypassed by
 * the tool's other name (`probe__sleep` on /mcp vs `sleep` on /mcp/probe), by arguments nested
 * deep, huge, or not an object; an expression reads nothing of the gateway; what could make an
 * evaluation cost more than linear in the arguments is refused when the policy loads.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { argumentRulesGuard } from '../../gateway/src/guards/argument-rules.ts';
import type { GuardedCall } from '../../gateway/src/guards/guard.ts';
import { parsePolicy } from '../../policy/src/index.ts';
import {
  eventually,
  grantTask,
  integrationOf,
  MCP_GATEWAY_ENV,
  messagesOf,
  post,
  toolCall,
  toolEvents,
  useMcpGateway,
} from '../helpers/mcp-gateway.ts';

const RULES = [
  {
    name: 'acme-only',
    tools: ['probe:sleep'],
    when: 'args.repo.startsWith("acme/")',
    message: 'acme repositories only',
  },
  {
    name: 'no-forbidden-body',
    tools: ['probe:sleep'],
    when: '!has(args.body) || (!args.body.contains("forbidden") && size(args.body) < 4194304)',
  },
  {
    name: 'small-items',
    tools: ['probe:sleep'],
    when: '!has(args.items) || args.items.all(i, i < 1000000)',
  },
  {
    name: 'keyed',
    tools: ['probe:sleep'],
    when: '!has(args.lookup) || args.table[args.lookup] == 1',
  },
  {
    name: 'deep-flag',
    tools: ['probe:sleep'],
    when: '!has(args.deep) || !has(args.deep.a) || args.deep.a.a.a.a.a != "stop"',
  },
];

// The fixtures' policy for the whole gateway, plus the rules: loaded from a file at boot.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-rules-'));
const policyFile = path.join(dir, 'policy.yaml');
const policy = parse(fs.readFileSync(MCP_GATEWAY_ENV.SWITCHBOARD_POLICY, 'utf8'));
fs.writeFileSync(policyFile, stringify({ ...policy, rules: RULES }));

async function answer(res: Response): Promise<Record<string, unknown>> {
  const [message] = messagesOf(res.headers.get('content-type'), await res.text());
  if (!message) throw new Error(`no answer (HTTP ${res.status})`);
  return message;
}

const textOf = (message: Record<string, unknown>) =>
  ((message.result as { content?: Array<{ text?: string }> } | undefined)?.content ?? [])[0]?.text;

describe('argument rules against hostile calls (whole gateway, policy file)', () => {
  const gw = useMcpGateway({ SWITCHBOARD_POLICY: policyFile });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the policy file’s rules are in force: the aggregate and the direct name are judged alike', async () => {
    const granted = await grantTask(gw(), ['probe:*']);
    const probe = integrationOf(granted, 'probe');
    const denied = 'rule acme-only: acme repositories only';
    for (const [url, token, name] of [
      [granted.mcp.url, granted.mcp.token, 'probe__sleep'],
      [probe.url, probe.token, 'sleep'],
    ] as const) {
      const bad = await answer(await post(url, token, toolCall(1, name, { ms: 1, repo: 'x/y' })));
      expect(bad.result).toMatchObject({ isError: true });
      expect(textOf(bad)).toBe(denied);
      const good = await answer(
        await post(url, token, toolCall(2, name, { ms: 1, repo: 'acme/y' })),
      );
      expect(good.result).not.toMatchObject({ isError: true });
    }
    // Other spellings of the name are no tool at all, never a way around the rule.
    for (const [url, token, name] of [
      [probe.url, probe.token, 'probe__sleep'],
      [granted.mcp.url, granted.mcp.token, 'sleep'],
      [granted.mcp.url, granted.mcp.token, 'PROBE__sleep'],
      [granted.mcp.url, granted.mcp.token, 'probe__Sleep'],
      [granted.mcp.url, granted.mcp.token, 'probe__sleep '],
    ] as const) {
      const other = await answer(await post(url, token, toolCall(3, name, { ms: 1, repo: 'x/y' })));
      expect(JSON.stringify(other), name).toMatch(/not found|Unknown tool/i);
    }
    const events = await eventually(async () => {
      const found = await toolEvents(gw(), granted.task.id);
      expect(found.length).toBeGreaterThanOrEqual(4);
      return found;
    });
    expect(events.filter((e) => e.error === `argument_rule_denied: ${denied}`)).toHaveLength(2);
  });

  it('a failing rule’s message quotes no argument value (it is recorded in the task’s events)', async () => {
    const granted = await grantTask(gw(), ['probe:*']);
    const secret = `secret-${'s'.repeat(1000)}`;
    const message = await answer(
      await post(
        granted.mcp.url,
        granted.mcp.token,
        toolCall(1, 'probe__sleep', { ms: 1, repo: 'acme/r', table: { a: 1 }, lookup: secret }),
      ),
    );
    expect(textOf(message)).toBe(
      'rule keyed: the call’s arguments do not satisfy it (the rule could not be evaluated on these arguments: at 1:22: no such key (args.table[args.lookup]))',
    );
    const [event] = await eventually(async () => {
      const found = await toolEvents(gw(), granted.task.id);
      expect(found).toHaveLength(1);
      return found;
    });
    expect(String(event?.error)).not.toContain('secret-');
  });

  it('arguments that are not an object never reach the upstream unjudged', async () => {
    const granted = await grantTask(gw(), ['probe:*']);
    const probe = integrationOf(granted, 'probe');
    for (const args of ['acme/', ['acme/'], 42, null, true]) {
      for (const [url, token, name] of [
        [granted.mcp.url, granted.mcp.token, 'probe__sleep'],
        [probe.url, probe.token, 'sleep'],
      ] as const) {
        const body = {
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name, arguments: args },
        };
        const message = await answer(await post(url, token, body));
        // Either the request is invalid (-32602) or the rule refuses it: never a forwarded call.
        const refused =
          (message.error as { code?: number } | undefined)?.code === -32602 ||
          textOf(message)?.startsWith('rule acme-only: ');
        expect(refused, `${JSON.stringify(args)} on ${name}: ${JSON.stringify(message)}`).toBe(
          true,
        );
      }
    }
  });

  it('deep arguments are judged to the last level, and past the bound never reach the rules', async () => {
    const granted = await grantTask(gw(), ['probe:*']);
    const nest = (levels: number, leaf: unknown): unknown =>
      levels === 0 ? leaf : { a: nest(levels - 1, leaf) };
    const deep = (value: string) => ({ a: { a: { a: { a: { a: value, b: nest(55, 'x') } } } } });
    const stop = await answer(
      await post(
        granted.mcp.url,
        granted.mcp.token,
        toolCall(1, 'probe__sleep', { ms: 1, repo: 'acme/r', deep: deep('stop') }),
      ),
    );
    expect(textOf(stop)).toBe('rule deep-flag: the call’s arguments do not satisfy it');
    const go = await answer(
      await post(
        granted.mcp.url,
        granted.mcp.token,
        toolCall(2, 'probe__sleep', { ms: 1, repo: 'acme/r', deep: deep('go') }),
      ),
    );
    expect(go.result).not.toMatchObject({ isError: true });
    // Past 64 levels the request itself is refused, before any guard.
    const tooDeep = await answer(
      await post(
        granted.mcp.url,
        granted.mcp.token,
        toolCall(3, 'probe__sleep', { ms: 1, repo: 'acme/r', deep: nest(100, 'stop') }),
      ),
    );
    expect(tooDeep.error).toMatchObject({ code: -32602, data: { code: 'arguments_too_deep' } });
  });

  it('huge arguments: 3 MiB strings judged whole, 10,000 values judged, more refused (fail closed)', async () => {
    const granted = await grantTask(gw(), ['probe:*']);
    const big = 'a'.repeat(3 * 1024 * 1024);
    const call = (id: number, args: Record<string, unknown>) =>
      post(granted.mcp.url, granted.mcp.token, toolCall(id, 'probe__sleep', args)).then(answer);
    // 9,994 list elements + the 6 members of the arguments: exactly the bound.
    const items = Array.from({ length: 9_994 }, (_, i) => i);
    const [hidden, clean, many, tooBig, tooMany, small] = await Promise.all([
      // The forbidden word at the very end of 3 MiB: the whole string is read.
      call(1, { ms: 1, repo: 'acme/r', body: `${big}forbidden` }),
      call(2, { ms: 1, repo: 'acme/r', body: big }),
      call(3, { ms: 1, repo: 'acme/r', items, a: 1, b: 2, c: 3 }),
      call(4, { ms: 1, repo: 'acme/r', items: [...items.slice(0, 9_993), 1_000_000] }),
      // 300,000 elements (1.5 MB of JSON): `all` over them would cost ~100 ms, on every call.
      call(5, { ms: 1, repo: 'acme/r', items: Array.from({ length: 300_000 }, () => 1) }),
      call(6, { ms: 1, repo: 'acme/r' }),
    ]);
    expect(textOf(hidden)).toBe('rule no-forbidden-body: the call’s arguments do not satisfy it');
    expect(clean.result).not.toMatchObject({ isError: true });
    expect(many.result).not.toMatchObject({ isError: true });
    expect(textOf(tooBig)).toBe('rule small-items: the call’s arguments do not satisfy it');
    expect(textOf(tooMany)).toBe(
      'rule acme-only: acme repositories only (the rule could not be evaluated on these arguments: the arguments hold more than 10000 values (elements and members), more than a rule judges)',
    );
    expect(small.result).not.toMatchObject({ isError: true });
    // One value more than the bound is refused too.
    const over = await call(7, { ms: 1, repo: 'acme/r', items, a: 1, b: 2, c: 3, d: 4 });
    expect(textOf(over)).toMatch(/more than 10000 values/);
    // Over the body bound (4 MiB) nothing is parsed, let alone judged.
    const res = await post(granted.mcp.url, granted.mcp.token, {
      ...toolCall(6, 'probe__sleep', { ms: 1, repo: 'acme/r', body: 'a'.repeat(5 * 1024 * 1024) }),
    });
    expect(res.status).toBe(413);
  });
});

describe('argument rule expressions an operator (or a copied snippet) could get wrong', () => {
  const load = (when: string) =>
    parsePolicy(
      stringify({
        apiVersion: 'switchboard/policy/v1',
        rules: [{ name: 'r', tools: ['github:*'], when }],
      }),
      'policy.yaml',
    );
  const error = (when: string) => {
    const result = load(when);
    return result.ok ? 'loaded' : result.errors.map((e) => e.message).join('; ');
  };

  it('reads nothing of the gateway: no environment, secrets, globals or prototypes', () => {
    for (const name of ['process', 'env', 'globalThis', 'require', 'import', 'secrets', 'this']) {
      expect(error(`${name}.SWITCHBOARD_MASTER_KEY == ""`), name).toMatch(
        /Unknown variable|Unexpected|Expected|Reserved identifier/,
      );
    }
    for (const key of ['constructor', '__proto__', 'prototype']) {
      expect(error(`args.${key}.constructor == "x"`), key).toBe('loaded');
    }
  });

  it('refuses backtracking regular expressions, exponential binds and quadratic quantifiers', () => {
    expect(error('args.title.matches("(a+)+$")')).toMatch(/matches\(\) is not allowed/);
    expect(error('args.title.matches(args.pattern)')).toMatch(/matches\(\) is not allowed/);
    expect(
      error('cel.bind(a, args.s + args.s, cel.bind(b, a + a, cel.bind(c, b + b, c.size() > 0)))'),
    ).toMatch(/bind\(\) is not allowed/);
    expect(error('args.a.all(x, args.a.all(y, x == y))')).toMatch(
      /predicate may read only its own variable, not args/,
    );
    expect(error('args.a.map(x, args.body).exists(y, y.size() > 0)')).toMatch(
      /map\(\) is not allowed/,
    );
    expect(error('args.body.split("a").exists(y, y == "b")')).toMatch(/split\(\) is not allowed/);
    expect(error(`${'!'.repeat(300)}true`)).toMatch(/maxDepth|maxAstNodes/);
  });
});

describe('the guard itself, behind the MCP layer (defence in depth)', () => {
  const loaded = parsePolicy(stringify({ apiVersion: 'switchboard/policy/v1', rules: RULES }), 'p');
  if (!loaded.ok) throw new Error('the test policy does not load');
  const guard = argumentRulesGuard({ policy: () => loaded.policy });
  const call = (args: unknown): GuardedCall => ({
    claims: {
      tokenId: 'jti',
      taskId: 'task-1',
      sessionId: null,
      profile: null,
      scope: ['probe:*'],
      audience: 'http://127.0.0.1/mcp',
      expiresAt: 0,
    },
    integration: 'probe',
    tool: 'sleep',
    definition: { name: 'sleep', inputSchema: { type: 'object' } },
    arguments: args as Record<string, unknown>,
    signal: new AbortController().signal,
    progress: () => {},
  });

  it('refuses arguments that are not an object, should the MCP layer ever pass one', () => {
    for (const args of ['acme/', ['acme/'], 42, true]) {
      expect(guard.before(call(args)), JSON.stringify(args)).toEqual({
        code: 'argument_rule_denied',
        message:
          'rule acme-only: acme repositories only (the rule could not be evaluated on these arguments: the arguments are not an object)',
      });
    }
    // No arguments at all are {}: the rule's missing field refuses.
    expect(guard.before(call(undefined))).toMatchObject({ code: 'argument_rule_denied' });
  });

  it('refuses everything while the policy is not loaded (an invalid file after a reload)', () => {
    const unloaded = argumentRulesGuard({ policy: () => undefined });
    expect(unloaded.before(call({ repo: 'acme/r' }))).toMatchObject({ code: 'policy_invalid' });
  });
});
