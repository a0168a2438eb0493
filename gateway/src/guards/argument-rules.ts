import {
  type ArgumentRule,
  type CompiledRule,
  compileArgumentRule,
  countValuesUpTo,
  evaluateArgumentRule,
  guardPatternMatches,
  MAX_RULE_ARGUMENT_VALUES,
  type Policy,
} from '@switchboard/policy';
import type { GuardedCall, Refusal, ToolCallGuard } from './guard.ts';

/**
 * The policy's argument rules (docs/policy.md "rules"; compiled and bounded by
 * @switchboard/policy's argument-rules.ts): every rule whose tools match the call, and whose
 * profiles (if any) include the task's, must be true of the call's arguments, or the call is
 * refused with the rule's name and message. An expression that fails on these arguments (a
 * missing field, a wrong type) refuses too: fail closed.
 */

interface CompiledArgumentRule {
  name: string;
  tools: readonly string[];
  profiles: readonly string[] | undefined;
  message: string | undefined;
  program: CompiledRule;
}

export interface ArgumentRulesGuardOptions {
  /** The policy in force (the registry's currentPolicy(): a new object after each reload). */
  policy: () => Policy | undefined;
}

function compileRules(rules: readonly ArgumentRule[]): CompiledArgumentRule[] {
  return rules.map((rule) => {
    const compiled = compileArgumentRule(rule.when);
    // The schema compiled it at load; a failure here is a bug, and the chain refuses on a throw.
    if (!compiled.ok) throw new Error(`rule ${rule.name} does not compile: ${compiled.message}`);
    return {
      name: rule.name,
      tools: rule.tools,
      profiles: rule.profiles,
      message: rule.message,
      program: compiled.rule,
    };
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function refusal(rule: CompiledArgumentRule, error?: string): Refusal {
  const why = rule.message ?? 'the call’s arguments do not satisfy it';
  return {
    code: 'argument_rule_denied',
    message:
      error === undefined
        ? `rule ${rule.name}: ${why}`
        : `rule ${rule.name}: ${why} (the rule could not be evaluated on these arguments: ${error})`,
  };
}

/** Synchronous: a verdict is microseconds of CPU, nothing to await (test/bench/cel-bench.ts). */
export interface ArgumentRulesGuard extends ToolCallGuard {
  before(call: GuardedCall): Refusal | undefined;
}

export function argumentRulesGuard(options: ArgumentRulesGuardOptions): ArgumentRulesGuard {
  if (typeof options?.policy !== 'function') {
    throw new TypeError(
      'argumentRulesGuard: options.policy must be a function returning the policy',
    );
  }
  // Per policy object: a reload brings a new one, and the old programs go with the old policy.
  const cache = new WeakMap<Policy, CompiledArgumentRule[]>();
  const rulesOf = (policy: Policy): CompiledArgumentRule[] => {
    let rules = cache.get(policy);
    if (!rules) {
      rules = compileRules(policy.rules ?? []);
      cache.set(policy, rules);
    }
    return rules;
  };

  return {
    name: 'argument-rules',
    before(call: GuardedCall): Refusal | undefined {
      const policy = options.policy();
      // Invalid after a reload: its rules are unknown, so nothing is let through unjudged.
      if (!policy) {
        return {
          code: 'policy_invalid',
          message: 'the policy is not loaded, so its argument rules cannot be checked',
        };
      }
      const rules = rulesOf(policy);
      if (rules.length === 0) return undefined;
      const profile = call.claims.profile ?? '';
      let variables: Parameters<typeof evaluateArgumentRule>[1] | undefined;
      for (const rule of rules) {
        if (!rule.tools.some((t) => guardPatternMatches(t, call.integration, call.tool))) continue;
        if (rule.profiles && !rule.profiles.includes(profile)) continue;
        // MCP says arguments is an object; anything else cannot be judged, so it is refused.
        const args: unknown = call.arguments ?? {};
        if (!isPlainObject(args)) return refusal(rule, 'the arguments are not an object');
        if (!variables) {
          // Once per call, and only for a call a rule judges (policy/src/argument-rules.ts).
          if (countValuesUpTo(args, MAX_RULE_ARGUMENT_VALUES) > MAX_RULE_ARGUMENT_VALUES) {
            return refusal(
              rule,
              `the arguments hold more than ${MAX_RULE_ARGUMENT_VALUES} values (elements and members), more than a rule judges`,
            );
          }
          variables = { args, integration: call.integration, tool: call.tool, profile };
        }
        const verdict = evaluateArgumentRule(rule.program, variables);
        if (!verdict.allowed) return refusal(rule, verdict.error);
      }
      return undefined;
    },
  };
}
