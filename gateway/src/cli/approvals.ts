import { formatDuration } from '@switchboard/policy';
import { UsageError } from '../errors.ts';
import { type Command, HELP_OPTION, parseCommandArgs, showHelp } from './command.ts';
import { callGateway } from './gateway-api.ts';
import { formatTable } from './table.ts';

const STATUSES = ['pending', 'approved', 'denied', 'expired', 'cancelled'];

const usage = `Usage:
  switchboard approvals list [--status S] [--task ID] [--limit N] [--cursor C] [--json]
  switchboard approvals approve ID [--reason TEXT]
  switchboard approvals deny ID --reason TEXT

Tool calls that a policy \`approvals\` rule holds wait here until an operator approves or denies
them (or their rule's timeout passes: expired). "approve" lets the held call through once;
"deny" refuses it, and the agent's tool error carries the reason (required, at most 1000
characters). Statuses: ${STATUSES.join(', ')} (cancelled: its task ended first).
Asks the running gateway (SWITCHBOARD_URL) with SWITCHBOARD_API_KEY (or SWITCHBOARD_ADMIN_KEY):
scopes approvals:read / approvals:write; an integration's key is refused.`;

interface Approval {
  id: string;
  taskId: string;
  integration: string;
  tool: string;
  status: string;
  requestedAt: string;
  expiresAt: string;
  decidedBy: string | null;
  reason: string | null;
}

/** `3m` ago, `in 7m` or `-` (decided: the expiry no longer matters). */
const since = (at: string, now: number) => formatDuration(Math.max(0, now - Date.parse(at)));
const expiry = (a: Approval, now: number) => {
  if (a.status !== 'pending') return '-';
  const left = Date.parse(a.expiresAt) - now;
  return left > 0 ? `in ${formatDuration(left)}` : 'now';
};

const table = (approvals: Approval[], now = Date.now()) =>
  formatTable(
    ['ID', 'TOOL', 'STATUS', 'AGE', 'EXPIRES', 'DECIDED BY', 'TASK'],
    approvals.map((a) => [
      a.id,
      `${a.integration}:${a.tool}`,
      a.status,
      since(a.requestedAt, now),
      expiry(a, now),
      a.decidedBy ?? '-',
      a.taskId,
    ]),
  );

export const approvals: Command = {
  name: 'approvals',
  summary: 'list, approve and deny tool calls held for approval',
  usage,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    if (sub === '--help' || sub === '-h' || sub === 'help') return showHelp(ctx, usage);
    switch (sub) {
      case 'list': {
        const { values } = parseCommandArgs(
          rest,
          {
            ...HELP_OPTION,
            status: { type: 'string' },
            task: { type: 'string' },
            limit: { type: 'string' },
            cursor: { type: 'string' },
            json: { type: 'boolean' },
          },
          usage,
        );
        if (values.help) return showHelp(ctx, usage);
        if (values.status !== undefined && !STATUSES.includes(values.status)) {
          throw new UsageError(
            `--status ${JSON.stringify(values.status)}: expected one of ${STATUSES.join(', ')}`,
            usage,
          );
        }
        const limit = values.limit;
        if (limit !== undefined && (!/^[1-9][0-9]{0,2}$/.test(limit) || Number(limit) > 500)) {
          throw new UsageError(
            `--limit ${JSON.stringify(values.limit)}: expected a whole number from 1 to 500`,
            usage,
          );
        }
        const query = new URLSearchParams();
        for (const key of ['status', 'task', 'limit', 'cursor'] as const) {
          if (values[key] !== undefined) query.set(key, values[key]);
        }
        const qs = query.size > 0 ? `?${query}` : '';
        const json = await callGateway(ctx.env, usage, 'GET', `/approvals${qs}`);
        if (values.json) {
          ctx.out(JSON.stringify(json, null, 2));
          return 0;
        }
        ctx.out(table(json.approvals as Approval[]));
        // The table is for people: the next page's cursor goes to stderr, out of a pipe's way.
        if (typeof json.next === 'string') ctx.err(`more: --cursor ${json.next}`);
        return 0;
      }
      case 'approve':
      case 'deny': {
        const { values, positionals } = parseCommandArgs(
          rest,
          { ...HELP_OPTION, reason: { type: 'string' } },
          usage,
          { min: 1, max: 1 },
        );
        if (values.help) return showHelp(ctx, usage);
        if (sub === 'deny' && values.reason === undefined) {
          throw new UsageError('deny needs --reason TEXT: the agent is told why', usage);
        }
        const body = values.reason === undefined ? {} : { reason: values.reason };
        const json = await callGateway(
          ctx.env,
          usage,
          'POST',
          `/approvals/${encodeURIComponent(positionals[0]!)}/${sub}`,
          body,
        );
        const a = json.approval as Approval;
        ctx.out(
          `${a.status} ${a.id} (${a.integration}:${a.tool}, task ${a.taskId})${a.reason ? `: ${a.reason}` : ''}`,
        );
        return 0;
      }
      default:
        throw new UsageError(
          sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`,
          usage,
        );
    }
  },
};
