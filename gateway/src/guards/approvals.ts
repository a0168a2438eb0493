import { createHash } from 'node:crypto';
import {
  type ApprovalRule,
  compileArgumentRule,
  countValuesUpTo,
  evaluateArgumentRule,
  guardPatternMatches,
  MAX_RULE_ARGUMENT_VALUES,
  type Policy,
} from '@switchboard/policy';
import {
  type ApprovalDeps,
  expireApproval,
  type RequestOutcome,
  requestApproval,
  useDecidedApproval,
} from '../approvals/requests.ts';
import { type ApprovalRow, findApproval } from '../approvals/store.ts';
import type { TaskEventWaker } from '../events/task-events.ts';
import { watchTask } from '../events/task-wakeups.ts';
import { canonicalJson } from '../integrations/tool-definition.ts';
import type { Logger } from '../log.ts';
import type { GuardedCall, Refusal, ToolCallGuard } from './guard.ts';

/**
 * Human approval (docs/policy.md "approvals", issue 15): a call that an approval rule names is
 * held until an operator approves or denies its request, on any replica (API, CLI). The request
 * is bound to the exact call (task, integration, tool, sha256 of its canonical arguments): a
 * decision can only let that call through, once. While held, the agent gets a progress
 * notification every PROGRESS_MS (when it sent a progressToken), so its client does not time
 * out. A decision on another replica commits a task event, which every replica's waker hears;
 * a poll every POLL_MS covers a lost notice.
 *
 * A gateway restart drops the held call (the agent sees its request fail); the request stays in
 * the table: a retry of the same call waits on it again, or uses it once if it was approved
 * meanwhile, and one nobody decided by its expiry is expired. Nothing is ever approved by a
 * timeout, a restart or an error: the chain refuses a call when this guard throws.
 */

/** 5 s: the same fallback poll as ask_user's (0.2 reads a second per held call). */
export const POLL_MS = 5_000;
/** 15 s: well inside MCP clients' 60 s default request timeout, which progress resets. */
export const PROGRESS_MS = 15_000;
/**
 * 16 KiB of arguments are stored for review; past that, a 4 KiB preview (the hash still binds
 * the decision to the whole call). A chat message and an approval list stay readable.
 */
export const MAX_STORED_ARGUMENTS_BYTES = 16 * 1024;
const PREVIEW_CHARS = 4 * 1024;
/** How often a request past its expiry by this process's clock is re-read (clock skew). */
const EXPIRY_RECHECK_MS = 1_000;
/** A call whose approval another identical call used asks again, at most this many times. */
const MAX_ROUNDS = 3;

export interface ApprovalGuardOptions extends ApprovalDeps {
  log: Logger;
  /** The policy in force and the integrations (whose dispatchers may announce requests). */
  registry: {
    currentPolicy(): Policy | undefined;
    list(): readonly {
      manifest?: { dispatchers: readonly { type: string; approvals?: string | undefined }[] };
    }[];
  };
  waker: Pick<TaskEventWaker, 'watch'>;
  /** Told of each request created and each decision a call used (the approval metrics). */
  onRequested?: (integration: string) => void;
  onDecided?: (integration: string, decision: 'approved' | 'denied' | 'expired') => void;
  /** Tests shorten these; production uses the defaults. */
  pollMs?: number;
  progressMs?: number;
}

interface CompiledApprovalRule {
  rule: ApprovalRule;
  when: ReturnType<typeof compileArgumentRule> | undefined;
}

/** The first rule that holds this call (rules in policy order), or undefined. */
function holdingRule(
  rules: readonly CompiledApprovalRule[],
  call: GuardedCall,
): ApprovalRule | undefined {
  const profile = call.claims.profile;
  for (const { rule, when } of rules) {
    if (!rule.tools.some((p) => guardPatternMatches(p, call.integration, call.tool))) continue;
    if (rule.profiles && (profile === null || !rule.profiles.includes(profile))) continue;
    if (when) {
      // Compiled at policy load. A call the rule cannot judge is held (fail closed): arguments
      // past argument rules' value cap, or an expression that fails on them.
      if (!when.ok) return rule;
      const args = call.arguments ?? {};
      if (countValuesUpTo(args, MAX_RULE_ARGUMENT_VALUES) > MAX_RULE_ARGUMENT_VALUES) return rule;
      const verdict = evaluateArgumentRule(when.rule, {
        args,
        integration: call.integration,
        tool: call.tool,
        profile: profile ?? '',
      });
      if (!verdict.allowed && verdict.error === undefined) continue;
    }
    return rule;
  }
  return undefined;
}

/** What is stored for review: the arguments, or a preview past MAX_STORED_ARGUMENTS_BYTES. */
function storedArguments(json: string, args: unknown): unknown {
  if (Buffer.byteLength(json) <= MAX_STORED_ARGUMENTS_BYTES) return args;
  return { truncated: true, bytes: Buffer.byteLength(json), preview: json.slice(0, PREVIEW_CHARS) };
}

export function createApprovalGuard(options: ApprovalGuardOptions): ToolCallGuard {
  const pollMs = options.pollMs ?? POLL_MS;
  const progressMs = options.progressMs ?? PROGRESS_MS;
  // Compiled once per policy object (a reload makes a new one).
  let compiledFor: Policy | undefined;
  let compiled: CompiledApprovalRule[] = [];

  function rulesOf(policy: Policy | undefined): CompiledApprovalRule[] {
    if (policy !== compiledFor) {
      compiledFor = policy;
      compiled = (policy?.approvals ?? []).map((rule) => ({
        rule,
        when: rule.when === undefined ? undefined : compileArgumentRule(rule.when),
      }));
    }
    return compiled;
  }

  function announceTypes(): string[] {
    const types = ['webhook'];
    for (const integration of options.registry.list()) {
      for (const d of integration.manifest?.dispatchers ?? []) {
        if (d.approvals !== undefined) types.push(d.type);
      }
    }
    return types;
  }

  return {
    name: 'approvals',
    async before(call) {
      const rules = rulesOf(options.registry.currentPolicy());
      if (rules.length === 0) return undefined;
      const rule = holdingRule(rules, call);
      if (!rule) return undefined;
      const args = call.arguments ?? {};
      const json = canonicalJson(args);
      const request = {
        key: {
          taskId: call.claims.taskId,
          integration: call.integration,
          tool: call.tool,
          argumentsHash: createHash('sha256').update(json).digest('hex'),
        },
        rule: { name: rule.name, timeoutMs: rule.timeout, message: rule.message },
        arguments: storedArguments(json, args),
        announceTypes: announceTypes(),
      };
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const outcome = await requestApproval(options, request);
        if (outcome.kind === 'waiting' && outcome.created) options.onRequested?.(call.integration);
        if (outcome.kind === 'approved') options.onDecided?.(call.integration, 'approved');
        const verdict = await settle(options, call, outcome, { pollMs, progressMs });
        if (verdict !== 'used_by_another') return verdict;
      }
      return {
        code: 'approval_limit',
        message: `approvals: identical calls used every approval given to this call; call again`,
      };
    },
  };
}

type Verdict = Refusal | undefined | 'used_by_another';

/** Waits out one request: undefined lets the call through, a Refusal ends it. */
async function settle(
  options: ApprovalGuardOptions,
  call: GuardedCall,
  outcome: RequestOutcome,
  timing: { pollMs: number; progressMs: number },
): Promise<Verdict> {
  if (outcome.kind === 'limit') {
    return { code: 'approval_limit', message: `approvals: ${outcome.message}` };
  }
  if (outcome.kind === 'approved') return undefined;
  if (outcome.kind === 'ended') {
    return { code: 'approval_denied', message: `approvals: task ${call.claims.taskId} has ended` };
  }
  const { id } = outcome.row;
  const hint = `approval ${id} (rule ${outcome.row.rule})`;
  const wakeups = watchTask(options.waker, call.claims.taskId);
  let lastProgress = 0;
  try {
    for (;;) {
      const row = await findApproval(options.sql, id);
      if (!row) return { code: 'approval_denied', message: `${hint}: the request is gone` };
      const verdict = await verdictOf(options, row, hint);
      if (verdict !== 'wait' && verdict !== 'used_by_another' && row.status !== 'cancelled') {
        options.onDecided?.(call.integration, row.status as 'approved' | 'denied' | 'expired');
      }
      if (verdict !== 'wait') return verdict;
      if (call.signal.aborted) {
        return {
          code: 'approval_denied',
          message: `${hint}: the call was cancelled while waiting; the request stays pending and the same call made again waits on it`,
        };
      }
      if (Date.now() - lastProgress >= timing.progressMs) {
        lastProgress = Date.now();
        call.progress(`waiting for ${hint}: switchboard approvals approve ${id}`);
      }
      const untilExpiry = row.expiresAt.getTime() - Date.now();
      // The database's clock decides expiry: past it by this process's clock, re-read once a
      // second (not in a tight loop) until the database agrees.
      const waitMs = untilExpiry > 0 ? untilExpiry + 50 : EXPIRY_RECHECK_MS;
      await wakeups.wait(Math.min(timing.pollMs, waitMs), call.signal);
    }
  } finally {
    wakeups.close();
  }
}

async function verdictOf(
  options: ApprovalGuardOptions,
  row: ApprovalRow,
  hint: string,
): Promise<Verdict | 'wait'> {
  switch (row.status) {
    case 'pending':
      return 'wait';
    case 'approved':
      return (await useDecidedApproval(options.sql, row.id)) ? undefined : 'used_by_another';
    case 'denied':
      return {
        code: 'approval_denied',
        message: `${hint}: denied by ${row.decidedBy ?? 'an operator'}${row.reason ? `: ${row.reason}` : ''}`,
      };
    case 'expired':
      await expireApproval(options, row.id);
      return {
        code: 'approval_expired',
        message: `${hint}: nobody approved it by ${row.expiresAt.toISOString()}; the call was not made`,
      };
    case 'cancelled':
      return { code: 'approval_denied', message: `${hint}: the task has ended` };
  }
}
