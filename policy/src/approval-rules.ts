import { localName, strictObject, text } from '@switchboard/sdk';
import { z } from 'zod';
import { compileArgumentRule } from './argument-rules.ts';
import { durationSchema } from './duration.ts';
import { guardToolPattern } from './guard-patterns.ts';

/**
 * Approval rules (docs/policy.md "approvals", issue 15): calls of the matching tools (by tasks
 * of the listed profiles, if any; where `when` holds, if given) wait for an operator to approve
 * or deny them. The gateway's approvals guard holds the call; the request is decided by the API
 * or the CLI on any replica.
 */

/** 10 minutes: long enough for a person to answer a chat message, short for an agent's run. */
export const DEFAULT_APPROVAL_TIMEOUT_MS = 10 * 60_000;
/** 24 hours: a held call longer than that is better denied and asked again. */
export const MAX_APPROVAL_TIMEOUT_MS = 24 * 3_600_000;

export const approvalRuleSchema = strictObject({
  name: localName,
  tools: z
    .array(guardToolPattern, { error: 'expected a list of tool patterns' })
    .min(1, 'expected at least one tool pattern (e.g. github:comment or *:delete_*)'),
  profiles: z
    .array(localName, { error: 'expected a list of profile names' })
    .min(1, 'expected at least one profile name, or no profiles: key (every task)')
    .optional(),
  /** Only calls where this CEL expression is true need approval (argument rules' language). */
  when: z
    .string({ error: 'expected a CEL expression in quotes' })
    .superRefine((when, ctx) => {
      const compiled = compileArgumentRule(when);
      if (!compiled.ok) {
        ctx.addIssue({ code: 'custom', message: `expected a valid CEL rule: ${compiled.message}` });
      }
    })
    .optional(),
  timeout: durationSchema
    .refine((ms) => ms <= MAX_APPROVAL_TIMEOUT_MS, 'expected at most 24h')
    .default(DEFAULT_APPROVAL_TIMEOUT_MS),
  message: text('a message shown to the approver and the agent')
    .max(500, 'expected at most 500 characters')
    .optional(),
});
export type ApprovalRule = z.output<typeof approvalRuleSchema>;
