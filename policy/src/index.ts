/**
 * @switchboard/policy — the operator policy schema (ARCHITECTURE §5) and the pure decision
 * whether an integration may run. It imports @switchboard/sdk for the manifest types and the
 * shared error format, never the gateway.
 */

export {
  type ApprovalRule,
  approvalRuleSchema,
  DEFAULT_APPROVAL_TIMEOUT_MS,
  MAX_APPROVAL_TIMEOUT_MS,
} from './approval-rules.ts';
export {
  type CompiledRule,
  type CompileResult,
  compileArgumentRule,
  countValuesUpTo,
  evaluateArgumentRule,
  MAX_RULE_ARGUMENT_VALUES,
  MAX_RULE_LENGTH,
  RULE_VARIABLES,
  type RuleVariables,
  type RuleVerdict,
} from './argument-rules.ts';
export {
  type Budget,
  type BudgetInput,
  budgetSchema,
  combineBudgets,
  MAX_BUDGET_CALLS,
  MAX_BUDGET_PATTERNS,
} from './budget.ts';
export {
  type Decision,
  type DecisionContext,
  decide,
  type Grant,
  type InvalidSetting,
  REFUSAL_CODES,
  type Refusal,
  type RefusalCode,
  type Refused,
} from './decide.ts';
export { DEVELOPMENT_VALUE_PREFIX, developmentMarkers } from './development.ts';
export {
  AGE_EXPECTED,
  DURATION_EXPECTED,
  formatAge,
  formatDuration,
  parseAge,
  parseDuration,
} from './duration.ts';
export { decideEgress, type EgressDecision } from './egress-grant.ts';
export {
  GUARD_TOOL_EXPECTED,
  GUARD_TOOL_PATTERN,
  guardPatternMatches,
  guardToolPattern,
} from './guard-patterns.ts';
export { profileRefusal, profilesOfIntegration } from './integration-profiles.ts';
export { loadPolicy, type PolicyError, type PolicyResult, parsePolicy } from './load.ts';
export {
  AGENT_NAMES,
  type AgentName,
  type ArgumentRule,
  DEFAULT_MAX_IN_FLIGHT,
  type IntegrationPolicy,
  POLICY_API_VERSION,
  type Policy,
  type PolicyInput,
  type PolicySchedule,
  type Profile,
  policySchema,
  type Retention,
  type Runner,
} from './schema.ts';
export { formatSize, parseSize, SIZE_EXPECTED } from './size.ts';
