/**
 * Argument rules (issue 15): what a rule costs. In this process, no gateway: the policy is
 * parsed from YAML like a file (the schema compiles every `when:`), and the gateway's own
 * argument-rules guard judges a realistic call (a GitHub-style comment, ~2 KB of arguments).
 *
 *   npx tsx test/bench/cel-bench.ts            (~15 s)
 *
 * Prints a markdown table: µs per compile, µs per guard call with 0 / 1 / 10 / 50 matching rules
 * (every rule true, so every one is evaluated: the worst case that still allows the call), 50
 * rules none of which match the tool, one rule over a 3 MiB argument (the body bound) and one
 * over 10,000 values (the bound on what a rule judges).
 */
import { stringify } from 'yaml';
import { argumentRulesGuard } from '../../gateway/src/guards/argument-rules.ts';
import type { GuardedCall } from '../../gateway/src/guards/guard.ts';
import { compileArgumentRule, type Policy, parsePolicy } from '../../policy/src/index.ts';

/** Rules an operator would write for a code host, each true of ARGS below. */
const TEMPLATES = [
  'args.repo.startsWith("acme/")',
  'size(args.body) <= 65536',
  '!args.labels.exists(l, l == "security")',
  'args.issue > 0 && args.issue < 1000000',
  'has(args.meta) && !args.meta.draft',
  'args.meta.reviewers.all(r, r.endsWith("@acme.com"))',
  'tool != "delete_repo" || profile == "admin"',
  '!args.body.contains("BEGIN PRIVATE KEY")',
  'args.repo in ["acme/widgets", "acme/gadgets", "acme/tools"]',
  'args.title.size() < 200 && args.title.lowerAscii().indexOf("urgent") < 0',
];

const ARGS = {
  repo: 'acme/widgets',
  issue: 4821,
  title: 'Flaky test in the checkout flow when the cart holds more than 50 items',
  body: 'Steps to reproduce:\n'.concat(
    '- add an item to the cart and check out again\n'.repeat(36),
  ),
  labels: ['bug', 'triage', 'p2', 'checkout', 'needs-review'],
  meta: {
    draft: false,
    reviewers: ['ann@acme.com', 'bob@acme.com', 'cho@acme.com'],
    links: { ci: 'https://ci.acme.com/run/99812', pr: 'https://git.acme.com/acme/widgets/pull/77' },
  },
};

function policyWith(count: number, tools: string[] = ['github:comment']): Policy {
  const rules = Array.from({ length: count }, (_, i) => ({
    name: `rule-${i}`,
    tools,
    when: TEMPLATES[i % TEMPLATES.length],
    message: `rule ${i} says no`,
  }));
  const result = parsePolicy(stringify({ apiVersion: 'switchboard/policy/v1', rules }), 'bench');
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.policy;
}

const call = (args: Record<string, unknown>): GuardedCall => ({
  claims: {
    tokenId: 'jti',
    taskId: 'task-1',
    sessionId: null,
    profile: 'triage',
    scope: ['github:*'],
    audience: 'http://127.0.0.1/mcp',
    expiresAt: 0,
  },
  integration: 'github',
  tool: 'comment',
  definition: { name: 'comment', inputSchema: { type: 'object' } },
  arguments: args,
  signal: new AbortController().signal,
  progress: () => {},
});

/** µs per run of `fn`: a warm-up, then the median of 5 timed rounds of `n` runs. */
function measure(fn: () => unknown, n: number): number {
  for (let i = 0; i < n; i++) fn();
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    rounds.push(Number(process.hrtime.bigint() - start) / 1000 / n);
  }
  return rounds.sort((a, b) => a - b)[2] as number;
}

function guardCost(policy: Policy, args: Record<string, unknown>, n: number): number {
  const guard = argumentRulesGuard({ policy: () => policy });
  const judged = call(args);
  const first = guard.before(judged);
  if (first) throw new Error(`the bench call is refused: ${first.message}`);
  return measure(() => guard.before(judged), n);
}

const rows: Array<[string, number]> = [];
rows.push([
  'compile one rule (parse + bounds + type check)',
  measure(() => compileArgumentRule(TEMPLATES[5] as string), 2_000),
]);
rows.push(['guard, policy without rules', guardCost(policyWith(0), ARGS, 200_000)]);
for (const count of [1, 10, 50]) {
  rows.push([
    `guard, ${count} matching rule${count > 1 ? 's' : ''} (all evaluated)`,
    guardCost(policyWith(count), ARGS, count === 50 ? 5_000 : 20_000),
  ]);
}
rows.push([
  'guard, 50 rules for other tools',
  guardCost(policyWith(50, ['github:merge', 'jira:*']), ARGS, 100_000),
]);
const huge = { ...ARGS, body: 'a'.repeat(3 * 1024 * 1024) };
rows.push([
  'guard, 1 rule `!args.body.contains(…)` over a 3 MiB body',
  guardCost(policyOfOne(TEMPLATES[7] as string), huge, 20),
]);
const atBound = { ...ARGS, items: Array.from({ length: 9_980 }, (_, i) => i) };
rows.push([
  'guard, 1 rule `!(999999 in args.items)` over 10,000 values (the bound)',
  guardCost(policyOfOne('!(999999 in args.items)'), atBound, 200),
]);
rows.push([
  'guard, 1 rule `size(args.body) <= 4194304` over a 3 MiB body',
  guardCost(policyOfOne('size(args.body) <= 4194304'), huge, 20),
]);

function policyOfOne(when: string): Policy {
  const result = parsePolicy(
    stringify({
      apiVersion: 'switchboard/policy/v1',
      rules: [{ name: 'one', tools: ['github:comment'], when }],
    }),
    'bench',
  );
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.policy;
}

console.log(`arguments: ${JSON.stringify(ARGS).length} bytes of JSON; node ${process.version}\n`);
console.log('| case | µs per call |\n|---|---|');
for (const [name, us] of rows) console.log(`| ${name} | ${us.toFixed(2)} |`);
