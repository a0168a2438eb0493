import {
  capabilitySchema,
  cronField,
  hostPort,
  integrationName,
  localName,
  settingKey,
  strictObject,
  text,
} from '@switchboard/sdk';
import { z } from 'zod';
import { approvalRuleSchema } from './approval-rules.ts';
import { compileArgumentRule } from './argument-rules.ts';
import { AGE_EXPECTED, durationSchema as duration, formatDuration, parseAge } from './duration.ts';
import { checkEgressHosts, egressPolicy } from './egress-schema.ts';
import { guardToolPattern } from './guard-patterns.ts';
import { profileSchema } from './profile-schema.ts';

export {
  AGENT_NAMES,
  type AgentName,
  DEFAULT_TASK_RETRY_BACKOFF,
  MAX_PROFILE_SECRETS,
} from './profile-schema.ts';

/**
 * The operator policy, `policy/default.yaml` (ARCHITECTURE §5): which integrations may run and
 * with what, how long task tokens live, and how agents are started. Strict throughout, like
 * the manifest: a misspelt grant must be an error, never a silently narrower (or wider) policy.
 */

export const POLICY_API_VERSION = 'switchboard/policy/v1';

/**
 * `https://mcp.example.com` or `http://127.0.0.1:7001`: scheme, host and port, nothing else. The
 * port may be one of the integration's settings, `http://127.0.0.1:${CHAT_PORT}`: the operator
 * allows that host on whatever port the setting resolves to (a port the gateway picked, for
 * `auto: port`). decide() fills it in before comparing.
 */
const ORIGIN_EXPECTED = `an origin: http(s)://host[:port] with no path or trailing slash, e.g. http://127.0.0.1:7001 (the port may be a setting: http://127.0.0.1:\${CHAT_PORT})`;
const PORT_PLACEHOLDER = /^(.*):\$\{[A-Z][A-Z0-9_]*\}$/;
function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}
const origin = z.string({ error: `expected ${ORIGIN_EXPECTED}` }).refine((value) => {
  const templated = PORT_PLACEHOLDER.exec(value);
  return templated ? isOrigin(`${templated[1]}:1`) : isOrigin(value);
}, `expected ${ORIGIN_EXPECTED}`);

const integrationPolicy = strictObject({
  enabled: z.boolean({ error: 'expected true or false' }).default(false),
  version: text('the exact manifest version to accept, in quotes, e.g. "1.2.0"').optional(),
  sha256: z
    .string({ error: 'expected 64 hex digits: the sha256 of the integration folder' })
    .regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hex digits: the sha256 of the integration folder')
    .transform((hex) => hex.toLowerCase())
    .optional(),
  grants: z.array(capabilitySchema, { error: 'expected a list of capabilities' }).default([]),
  outboundHosts: z.array(hostPort, { error: 'expected a list of host names' }).default([]),
  egress: egressPolicy.prefault({}),
  allowUrls: z.array(origin, { error: 'expected a list of origins' }).optional(),
  settings: z
    .record(
      settingKey,
      z.string({ error: 'expected a string (quote numbers and booleans, e.g. "8080")' }),
      { error: 'expected a mapping of setting keys to values' },
    )
    .optional(),
  webhooks: strictObject({
    unsigned: z.boolean({ error: 'expected true or false' }).optional(),
    /** Per endpoint; unset: 60 for scheme none, 6,000 for signed ones (gateway ingress-limit). */
    requestsPerMinute: z
      .int({ error: 'expected a whole number of requests ≥ 1' })
      .min(1, 'expected a whole number of requests ≥ 1')
      .optional(),
  }).optional(),
  /** The profile that runs the tasks this integration's triggers start (unless they name one). */
  profile: localName.optional(),
  /**
   * Other profiles this integration's triggers (`execution.profile`) and process key may name.
   * Integration code is untrusted: without this list it could pick any profile, the widest too.
   */
  profiles: z.array(localName, { error: 'expected a list of profile names' }).optional(),
  audit: strictObject({
    arguments: z
      .boolean({ error: 'expected true or false' })
      .default(false)
      .describe('record tool-call arguments in task events (they may hold personal data)'),
  }).optional(),
  rateLimit: strictObject({
    requestsPerMinute: z
      .int({ error: 'expected a whole number of requests ≥ 1' })
      .min(1, 'expected a whole number of requests ≥ 1'),
  }).optional(),
  /**
   * The total deadline of one tool call, in ms once parsed (progress restarts the manifest's
   * per-request timeout, never this). Unset: 10 min (gateway mcp/call-bounds.ts), longer than
   * any interactive call, short enough that a call stuck in progress frees its agent.
   */
  maxCallDuration: duration.optional(),
  /**
   * Tool pinning against rug pulls (gateway integrations/tool-pinning.ts): a tool whose
   * definition changed since it was pinned is hidden until an operator approves it.
   * `first-sight` (unset): new tools are pinned as first listed; `operator`: new tools are hidden
   * until approved too; `off`: no pinning.
   */
  toolPinning: z
    .enum(['first-sight', 'operator', 'off'], {
      error: 'expected first-sight, operator or off',
    })
    .optional(),
}).superRefine(checkEgressHosts);

/** 15 min: long enough for a review task, short enough that a leaked token soon dies. */
const DEFAULT_TOKEN_TTL_MS = 15 * 60_000;

// Either field may be left out: maxTtl defaults to 2h, defaultTtl to 15m (or maxTtl if shorter).
/**
 * MCP requests one task may have in flight at once (all its tokens together; http/concurrency.ts).
 * 32 is well above what an agent runs in parallel (a handful of tool calls) and bounds what one
 * hostile agent holds: 1,000 concurrent calls from one token were all accepted before issue 13.
 */
export const DEFAULT_MAX_IN_FLIGHT = 32;

const tokens = strictObject({
  defaultTtl: duration.optional(),
  maxTtl: duration.prefault('2h'),
  maxInFlight: z
    .int({ error: 'expected a whole number of requests ≥ 1' })
    .min(1, 'expected a whole number of requests ≥ 1')
    .max(10_000, 'expected at most 10000 requests')
    .default(DEFAULT_MAX_IN_FLIGHT),
})
  .superRefine((ttl, ctx) => {
    if (ttl.defaultTtl !== undefined && ttl.defaultTtl > ttl.maxTtl) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultTtl'],
        message: `expected at most maxTtl (${formatDuration(ttl.maxTtl)})`,
      });
    }
  })
  .transform((ttl) => ({
    defaultTtlMs: ttl.defaultTtl ?? Math.min(DEFAULT_TOKEN_TTL_MS, ttl.maxTtl),
    maxTtlMs: ttl.maxTtl,
    maxInFlight: ttl.maxInFlight,
  }));

/**
 * An age in the file (`30d`, or `off`: keep for ever), milliseconds or null in the parsed
 * policy. At least an hour: a shorter one would delete the events of a task that ended while a
 * client still follows its stream, or a delivery an operator is about to replay.
 */
const MIN_AGE_MS = 3_600_000;
const age = z.string({ error: `expected ${AGE_EXPECTED}` }).transform((value, ctx) => {
  if (value === 'off') return null;
  const ms = parseAge(value);
  if (ms === undefined || ms < MIN_AGE_MS) {
    ctx.addIssue({
      code: 'custom',
      message: ms === undefined ? `expected ${AGE_EXPECTED}` : 'expected at least 1h, or off',
    });
    return z.NEVER;
  }
  return ms;
});

/** The retention job (gateway/src/retention/): how long settled rows are kept, and how often it runs. */
const retention = strictObject({
  deliveries: age.prefault('30d'),
  taskEvents: age.prefault('30d'),
  audit: age.prefault('90d'),
  /** The egress proxy's connection log (gateway/src/egress/store.ts). */
  egress: age.prefault('30d'),
  interval: duration.prefault('1h'),
})
  .superRefine((r, ctx) => {
    if (r.interval < 60_000) {
      ctx.addIssue({ code: 'custom', path: ['interval'], message: 'expected at least 1m' });
    }
  })
  .transform((r) => ({
    deliveriesMs: r.deliveries,
    taskEventsMs: r.taskEvents,
    auditMs: r.audit,
    egressMs: r.egress,
    intervalMs: r.interval,
  }));

const schedule = strictObject({
  name: localName,
  cron: cronField,
  session: text('a session key such as ops:weekly'),
  prompt: text('the message the scheduled task starts with'),
  profile: localName,
});

/**
 * An argument rule (docs/policy.md "rules"): calls of the matching tools (by tasks of the listed
 * profiles, if any) are allowed only where `when` is true. The expression is compiled here, so a
 * policy with a broken one fails to load with its path and the error's line:column.
 */
const argumentRule = strictObject({
  name: localName,
  tools: z
    .array(guardToolPattern, { error: 'expected a list of tool patterns' })
    .min(1, 'expected at least one tool pattern (e.g. github:comment)'),
  profiles: z
    .array(localName, { error: 'expected a list of profile names' })
    .min(1, 'expected at least one profile name, or no profiles: key (every task)')
    .optional(),
  when: z.string({ error: 'expected a CEL expression in quotes' }).superRefine((when, ctx) => {
    const compiled = compileArgumentRule(when);
    if (!compiled.ok) {
      ctx.addIssue({ code: 'custom', message: `expected a valid CEL rule: ${compiled.message}` });
    }
  }),
  message: text('a message shown to the agent when the rule denies a call')
    .max(500, 'expected at most 500 characters')
    .optional(),
});
export type ArgumentRule = z.output<typeof argumentRule>;

export const policySchema = strictObject(
  {
    apiVersion: z.literal(POLICY_API_VERSION),
    /**
     * A policy for local development and tests, whose values are public: a gateway in
     * production mode (SWITCHBOARD_MODE=production) refuses to start with it.
     */
    development: z.boolean({ error: 'expected true or false' }).default(false),
    integrations: z
      .record(integrationName, integrationPolicy, {
        error: 'expected a mapping of integration names to their policy',
      })
      .default({}),
    tokens: tokens.prefault({}),
    profiles: z
      .record(localName, profileSchema, {
        error: 'expected a mapping of profile names to profiles',
      })
      .default({}),
    schedules: z.array(schedule, { error: 'expected a list of schedules' }).default([]),
    /**
     * Built-in `webhook` dispatches and event subscriptions POST to operator-given URLs; a
     * private, loopback or link-local address is refused (SSRF) unless its host is listed here.
     */
    dispatch: strictObject({
      allowHosts: z.array(hostPort, { error: 'expected a list of host names' }).default([]),
    }).prefault({}),
    /** `/metrics` answers only a Bearer API key with `metrics:read` when `requireKey` is true. */
    metrics: strictObject({
      requireKey: z.boolean({ error: 'expected true or false' }).default(false),
    }).prefault({}),
    retention: retention.prefault({}),
    /** 100 rules: each call evaluates the ones matching its tool, microseconds each. */
    rules: z
      .array(argumentRule, { error: 'expected a list of argument rules' })
      .max(100, 'expected at most 100 rules')
      .default([]),
    /** 100 approval rules, like `rules`: a held call is decided by an operator (API, CLI). */
    approvals: z
      .array(approvalRuleSchema, { error: 'expected a list of approval rules' })
      .max(100, 'expected at most 100 approval rules')
      .default([]),
  },
  `a policy (a mapping starting with apiVersion: ${POLICY_API_VERSION})`,
).superRefine((policy, ctx) => {
  const seen = new Map<string, number>();
  const profiles = Object.keys(policy.profiles);
  for (const [index, { name, profile: wanted }] of policy.schedules.entries()) {
    const first = seen.get(name);
    if (first === undefined) seen.set(name, index);
    else
      ctx.addIssue({
        code: 'custom',
        path: ['schedules', index, 'name'],
        message: `expected a unique schedule name (schedules[${first}].name is already ${JSON.stringify(name)})`,
        params: { found: `${JSON.stringify(name)} again` },
      });
    if (!profiles.includes(wanted)) {
      ctx.addIssue({
        code: 'custom',
        path: ['schedules', index, 'profile'],
        message: `expected a profile defined under profiles (${profiles.length > 0 ? `defined: ${profiles.join(', ')}` : 'none is defined'})`,
      });
    }
  }
  for (const list of ['rules', 'approvals'] as const) {
    const names = new Map<string, number>();
    for (const [index, rule] of policy[list].entries()) {
      const first = names.get(rule.name);
      if (first === undefined) names.set(rule.name, index);
      else
        ctx.addIssue({
          code: 'custom',
          path: [list, index, 'name'],
          message: `expected a unique rule name (${list}[${first}].name is already ${JSON.stringify(rule.name)})`,
        });
      for (const [at, listed] of (rule.profiles ?? []).entries()) {
        if (profiles.includes(listed)) continue;
        ctx.addIssue({
          code: 'custom',
          path: [list, index, 'profiles', at],
          message: `expected a profile defined under profiles (${profiles.length > 0 ? `defined: ${profiles.join(', ')}` : 'none is defined'})`,
        });
      }
    }
  }
  for (const [name, entry] of Object.entries(policy.integrations)) {
    if (entry.profile !== undefined && !profiles.includes(entry.profile)) {
      ctx.addIssue({
        code: 'custom',
        path: ['integrations', name, 'profile'],
        message: `expected a profile defined under profiles (${profiles.length > 0 ? `defined: ${profiles.join(', ')}` : 'none is defined'})`,
      });
    }
    for (const [index, listed] of (entry.profiles ?? []).entries()) {
      if (profiles.includes(listed)) continue;
      ctx.addIssue({
        code: 'custom',
        path: ['integrations', name, 'profiles', index],
        message: `expected a profile defined under profiles (${profiles.length > 0 ? `defined: ${profiles.join(', ')}` : 'none is defined'})`,
      });
    }
  }
});

export type Policy = z.output<typeof policySchema>;
export type PolicyInput = z.input<typeof policySchema>;
export type IntegrationPolicy = z.output<typeof integrationPolicy>;
export type Profile = Policy['profiles'][string];
export type Runner = Profile['runner'];
export type PolicySchedule = Policy['schedules'][number];
export type Retention = Policy['retention'];
