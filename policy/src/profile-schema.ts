import { isNotObject, strictObject, text, toolPattern } from '@switchboard/sdk';
import { z } from 'zod';
import { budgetSchema } from './budget.ts';
import { durationSchema as duration } from './duration.ts';

/**
 * A profile of the policy (`profiles.<name>`, docs/policy.md "profiles"): how its agents are
 * started (the runner, or an agent preset), the tools their tokens may cover, their secrets,
 * timeout, concurrency, retries and budget. Split from schema.ts, which holds the rest of the
 * policy file.
 */

const envMap = z
  .record(
    text('an environment variable name', /^[A-Za-z_][A-Za-z0-9_]*$/),
    z.string({ error: 'expected a string (quote numbers and booleans)' }),
    { error: 'expected a mapping of environment variables to values' },
  )
  .optional();
/** `prompt`: the task's prompt is written to the agent's stdin (then closed); `none`: empty. */
const runnerStdin = z.enum(['none', 'prompt'], { error: 'expected none or prompt' }).optional();
const runnerArgs = z
  .array(z.string({ error: 'expected a string argument' }), {
    error: 'expected a list of string arguments',
  })
  .optional();

/**
 * How an agent process is started. Each driver has its own fields and rejects the others',
 * so `image:` under `driver: process` is an error rather than ignored. Arguments may hold
 * placeholders (`{workdir}`, `{prompt}`, `{prompt_file}`, `{mcp_json}`) that the runner expands.
 */
const runner = z.discriminatedUnion(
  'driver',
  [
    strictObject({
      driver: z.literal('process'),
      /** Required unless the profile names an `agent:` (whose preset supplies it). */
      command: text('the program to start, e.g. switchboard').optional(),
      args: runnerArgs,
      /** With `agent:`: added after the preset's args (a model provider's `-c` lines, say). */
      extraArgs: runnerArgs,
      env: envMap,
      cwd: text('a working directory').optional(),
      stdin: runnerStdin,
    }),
    strictObject({
      driver: z.literal('docker'),
      image: text('a container image, e.g. ghcr.io/acme/agent:1.4'),
      command: text('a command').optional(),
      args: runnerArgs,
      extraArgs: runnerArgs,
      env: envMap,
      network: text('a docker network name').optional(),
      stdin: runnerStdin,
    }),
    strictObject({
      driver: z.literal('kubernetes'),
      image: text('a container image, e.g. ghcr.io/acme/agent:1.4'),
      command: text('a command').optional(),
      args: runnerArgs,
      env: envMap,
      namespace: text('a kubernetes namespace').optional(),
      serviceAccount: text('a kubernetes service account name').optional(),
    }),
  ],
  {
    error: (issue) =>
      isNotObject(issue.input)
        ? 'expected a mapping with driver: process, docker or kubernetes'
        : undefined,
  },
);

/** Waits after failed runs 1, 2, … when `retry.backoff` is not given (the last one repeats). */
export const DEFAULT_TASK_RETRY_BACKOFF = ['30s', '2m', '10m'] as const;

/**
 * A task whose agent fails (exits non-zero, times out, cannot start) runs again after a wait,
 * until it has run `attempts` times. Absent: `attempts: 1`, a failed run is final.
 */
const retry = strictObject({
  attempts: z
    .int({ error: 'expected a whole number of runs from 1 to 100' })
    .min(1, 'expected a whole number of runs from 1 to 100')
    .max(100, 'expected a whole number of runs from 1 to 100'),
  backoff: z
    .array(duration, { error: `expected a list of durations such as [30s, 2m, 10m]` })
    .min(1, 'expected at least one duration')
    .max(100, 'expected at most 100 durations')
    .prefault([...DEFAULT_TASK_RETRY_BACKOFF]),
}).transform(({ backoff, ...rest }) => ({ ...rest, backoffMs: backoff }));

/**
 * The agent CLIs the gateway has presets for (gateway/src/runners/presets): `agent: <name>`
 * fills the runner's command, args and stdin; the profile's own `command`, `args` or `stdin`
 * each replace the preset's (docs/policy.md "agent").
 */
export const AGENT_NAMES = ['claude-code', 'codex', 'goose', 'generic'] as const;
export type AgentName = (typeof AGENT_NAMES)[number];

/**
 * Names the gateway sets itself or the docker/kubectl CLI reads (runners/cli.ts): a secret
 * under one of them would be overridden, or change which daemon or cluster the CLI talks to.
 */
const RESERVED_SECRET =
  /^(PATH|HOME|LANG|USER|TMPDIR|KUBECONFIG|DOCKER_[A-Z0-9_]*|XDG_[A-Z0-9_]*|(HTTPS?|NO|ALL)_PROXY|SWITCHBOARD_[A-Z0-9_]*)$/i;
/** 32 model credentials and base URLs per profile is far more than one agent uses. */
export const MAX_PROFILE_SECRETS = 32;
const secretName = text(
  'an environment variable name for a secret: an uppercase letter, then uppercase letters, digits or _ (e.g. ANTHROPIC_API_KEY), at most 128 characters',
  /^[A-Z][A-Z0-9_]{0,127}$/,
).refine(
  (name) => !RESERVED_SECRET.test(name),
  'expected a name the gateway does not set itself (not PATH, HOME, LANG, USER, TMPDIR, KUBECONFIG, DOCKER_*, XDG_*, *_PROXY or SWITCHBOARD_*)',
);
/**
 * `secrets: [ANTHROPIC_API_KEY, …]`: names only. The values are set with `switchboard profiles
 * secrets set` and stored encrypted (gateway settings/profile-secrets.ts), never in this file.
 */
const profileSecrets = z
  .array(secretName, { error: 'expected a list of environment variable names' })
  .max(MAX_PROFILE_SECRETS, `expected at most ${MAX_PROFILE_SECRETS} secrets`)
  .superRefine((names, ctx) => {
    names.forEach((name, index) => {
      const first = names.indexOf(name);
      if (first !== index)
        ctx.addIssue({
          code: 'custom',
          path: [index],
          message: `expected a unique name (secrets[${first}] is already ${name})`,
        });
    });
  });

export const profileSchema = strictObject({
  agent: z.enum(AGENT_NAMES, { error: `expected one of ${AGENT_NAMES.join(', ')}` }).optional(),
  runner,
  tools: z.array(toolPattern, { error: 'expected a list of tool patterns' }).default([]),
  secrets: profileSecrets.optional(),
  timeout: duration.optional(),
  concurrency: z
    .int({ error: 'expected a whole number of tasks ≥ 1' })
    .min(1, 'expected a whole number of tasks ≥ 1')
    .optional(),
  retry: retry.optional(),
  /** Tool calls, per-tool calls, upstream bytes and wall time of each task (policy/src/budget.ts). */
  budget: budgetSchema.optional(),
})
  .superRefine((p, ctx) => {
    for (const [index, name] of (p.secrets ?? []).entries()) {
      if (p.runner.env && Object.hasOwn(p.runner.env, name))
        ctx.addIssue({
          code: 'custom',
          path: ['secrets', index],
          message: `expected a name not also in runner.env (${name} is set there in plain text; remove it from runner.env and set it with: switchboard profiles secrets set <profile> ${name})`,
        });
    }
    const extraArgs = 'extraArgs' in p.runner ? p.runner.extraArgs : undefined;
    if (extraArgs !== undefined && p.agent === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['runner', 'extraArgs'],
        message: `expected args instead: extraArgs adds to an agent preset's args, and this profile names no agent (${AGENT_NAMES.join(', ')})`,
      });
    if (extraArgs !== undefined && p.runner.args !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['runner', 'extraArgs'],
        message:
          "expected args or extraArgs, not both: args replaces the preset's list, extraArgs adds to it",
      });
    if (p.agent === undefined) {
      if (p.runner.driver === 'process' && p.runner.command === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['runner', 'command'],
          message: `expected the program to start, e.g. switchboard (or name an agent: ${AGENT_NAMES.join(', ')})`,
        });
      return;
    }
    if (p.agent === 'generic' && p.runner.driver === 'process' && p.runner.command === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['runner', 'command'],
        message: 'expected the program to start: agent generic is any MCP-capable CLI, so name it',
      });
    // A pod has no stdin to hand the prompt to, which the presets rely on.
    if (p.runner.driver === 'kubernetes')
      ctx.addIssue({
        code: 'custom',
        path: ['agent'],
        message:
          'expected a runner with driver process or docker: agent presets do not run under kubernetes (give runner.command and args there)',
      });
  })
  .transform(({ timeout, ...rest }) => ({ ...rest, timeoutMs: timeout }));
