import { DURATION_EXPECTED, parseDuration } from '@switchboard/policy';
import { UsageError } from '../errors.ts';
import { isScopePattern, SCOPE_EXPECTED } from '../tokens/scope.ts';
import {
  type CliContext,
  type Command,
  HELP_OPTION,
  parseCommandArgs,
  showHelp,
} from './command.ts';
import { callGateway } from './gateway-api.ts';
import { formatTable } from './table.ts';
import { watchTask } from './task-watch.ts';

const usage = `Usage:
  switchboard task run --profile P --prompt TEXT [--session KEY] [--scope PATTERN…]
                       [--timeout 20m] [--idempotency-key K] [--wait]
  switchboard task list [--status S[,S…]] [--profile P] [--session ID] [--limit N] [--json]
  switchboard task watch ID
  switchboard task cancel ID [--reason TEXT]
  switchboard task end ID [--result TEXT]
  switchboard task end ID --cancel [--reason TEXT]

"run" queues a task and prints its id; with --wait it shows the task's events live (state
changes, each tool call with its duration, progress) and then the result, and exits 0 when the
task completed, 1 when it failed or was cancelled. "watch" is the same live view of any task.
"end" ends a running external task, complete (default) or cancelled; "cancel" stops a pending
or running task. Either revokes the task's tokens at once.
Statuses: pending, running, complete, failed, cancelled.
Asks the running gateway (SWITCHBOARD_URL) with SWITCHBOARD_API_KEY (scopes tasks:read,
tasks:write).`;

interface TaskJson {
  id: string;
  status: string;
  profile: string | null;
  sessionId: string | null;
  reason: string | null;
  createdAt: string;
  prompt: string;
}

const STATUSES = ['pending', 'running', 'complete', 'failed', 'cancelled'];

async function run(rest: string[], ctx: CliContext): Promise<number> {
  const { values } = parseCommandArgs(
    rest,
    {
      ...HELP_OPTION,
      profile: { type: 'string' },
      prompt: { type: 'string' },
      session: { type: 'string' },
      scope: { type: 'string', multiple: true },
      timeout: { type: 'string' },
      'idempotency-key': { type: 'string' },
      wait: { type: 'boolean' },
    },
    usage,
  );
  if (values.help) return showHelp(ctx, usage);
  if (values.profile === undefined) throw new UsageError('missing --profile', usage);
  if (values.prompt === undefined) throw new UsageError('missing --prompt', usage);
  const scope = values.scope?.flatMap((s) => s.split(/[\s,]+/)).filter((s) => s !== '');
  const bad = scope?.find((s) => !isScopePattern(s));
  if (bad)
    throw new UsageError(`--scope ${JSON.stringify(bad)}: expected ${SCOPE_EXPECTED}`, usage);
  if (values.timeout !== undefined && parseDuration(values.timeout) === undefined) {
    throw new UsageError(
      `--timeout ${JSON.stringify(values.timeout)}: expected ${DURATION_EXPECTED}`,
      usage,
    );
  }
  const { task } = (await callGateway(ctx.env, usage, 'POST', '/tasks', {
    profile: values.profile,
    prompt: values.prompt,
    ...(values.session ? { session: values.session } : {}),
    ...(scope ? { scope } : {}),
    ...(values.timeout ? { timeout: values.timeout } : {}),
    ...(values['idempotency-key'] ? { idempotencyKey: values['idempotency-key'] } : {}),
  })) as { task: TaskJson };
  // stdout: the id alone, so `ID=$(switchboard task run …)` works.
  ctx.out(task.id);
  if (!values.wait) return 0;
  return watchTask(ctx, usage, task.id);
}

async function list(rest: string[], ctx: CliContext): Promise<number> {
  const { values } = parseCommandArgs(
    rest,
    {
      ...HELP_OPTION,
      status: { type: 'string' },
      profile: { type: 'string' },
      session: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    },
    usage,
  );
  if (values.help) return showHelp(ctx, usage);
  const unknown = values.status?.split(',').find((s) => !STATUSES.includes(s));
  if (unknown !== undefined) {
    throw new UsageError(
      `--status ${JSON.stringify(unknown)}: expected one of ${STATUSES.join(', ')}`,
      usage,
    );
  }
  if (values.limit !== undefined && !/^[1-9][0-9]{0,2}$/.test(values.limit)) {
    throw new UsageError(
      `--limit ${JSON.stringify(values.limit)}: expected a whole number from 1 to 500`,
      usage,
    );
  }
  const query = new URLSearchParams();
  for (const key of ['status', 'profile', 'session', 'limit'] as const) {
    if (values[key] !== undefined) query.set(key, values[key]);
  }
  const json = await callGateway(
    ctx.env,
    usage,
    'GET',
    `/tasks${query.size > 0 ? `?${query}` : ''}`,
  );
  if (values.json) {
    ctx.out(JSON.stringify(json, null, 2));
    return 0;
  }
  const tasks = json.tasks as TaskJson[];
  const oneLine = (s: string) => (s.length > 40 ? `${s.slice(0, 39)}…` : s).replace(/\s+/g, ' ');
  ctx.out(
    formatTable(
      ['ID', 'STATUS', 'PROFILE', 'REASON', 'CREATED', 'PROMPT'],
      tasks.map((t) => [
        t.id,
        t.status,
        t.profile ?? '-',
        t.reason ?? '-',
        t.createdAt,
        oneLine(t.prompt) || '-',
      ]),
    ),
  );
  return 0;
}

async function end(rest: string[], ctx: CliContext, cancelOnly: boolean): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    rest,
    {
      ...HELP_OPTION,
      ...(cancelOnly ? {} : { cancel: { type: 'boolean' }, result: { type: 'string' } }),
      reason: { type: 'string' },
    } as typeof HELP_OPTION & {
      cancel: { type: 'boolean' };
      result: { type: 'string' };
      reason: { type: 'string' };
    },
    usage,
    { min: 1, max: 1 },
  );
  if (values.help) return showHelp(ctx, usage);
  const cancel = cancelOnly || values.cancel === true;
  if (cancel && values.result !== undefined) {
    throw new UsageError('--result is for completing; a cancelled task takes --reason', usage);
  }
  if (!cancel && values.reason !== undefined) {
    throw new UsageError('--reason goes with --cancel', usage);
  }
  const id = encodeURIComponent(positionals[0]!);
  const json = await callGateway(
    ctx.env,
    usage,
    'POST',
    `/tasks/${id}/${cancel ? 'cancel' : 'complete'}`,
    cancel ? { reason: values.reason } : { result: values.result },
  );
  const ended = json.task as { id: string; status: string };
  ctx.out(`task ${ended.id} ${ended.status}; its tokens are revoked`);
  return 0;
}

export const task: Command = {
  name: 'task',
  summary: 'run, list, watch, cancel and end tasks',
  usage,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    switch (sub) {
      case '--help':
      case '-h':
      case 'help':
        return showHelp(ctx, usage);
      case 'run':
        return run(rest, ctx);
      case 'list':
        return list(rest, ctx);
      case 'watch': {
        const { values, positionals } = parseCommandArgs(rest, HELP_OPTION, usage, {
          min: 1,
          max: 1,
        });
        if (values.help) return showHelp(ctx, usage);
        return watchTask(ctx, usage, positionals[0]!);
      }
      case 'cancel':
        return end(rest, ctx, true);
      case 'end':
        return end(rest, ctx, false);
      default:
        throw new UsageError(
          sub ? `unknown subcommand ${JSON.stringify(sub)}` : 'missing subcommand',
          usage,
        );
    }
  },
};
