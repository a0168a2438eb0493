import { UsageError } from '../errors.ts';
import { isScopePattern, SCOPE_EXPECTED } from '../tokens/scope.ts';
import { type Command, HELP_OPTION, parseCommandArgs, showHelp } from './command.ts';
import { callGateway } from './gateway-api.ts';

const usage = `Usage:
  switchboard token grant --scope PATTERN [--scope PATTERN…] [--ttl 15m] [--prompt TEXT] [--json]
                          [--budget-calls N] [--budget-tool PATTERN=N…] [--budget-bytes 50MB]
                          [--budget-time 30m]

Creates an external task (an agent you run yourself) and prints its tokens: one for the
aggregate endpoint /mcp and one per integration the scope covers (/mcp/<integration>).
Scope patterns: ${SCOPE_EXPECTED}. The ttl defaults to the policy's tokens.defaultTtl and
may not exceed its maxTtl. The --budget-* options give the task a budget (docs/policy.md
"budget"): tool calls in all, calls per tool pattern (e.g. --budget-tool "github:comment=5"),
bytes of upstream results, wall time; a call past one is refused. End the task with "switchboard task end ID", which revokes the tokens.
Asks the running gateway (SWITCHBOARD_URL) with SWITCHBOARD_API_KEY (scope tasks:write).`;

interface Granted {
  task: { id: string };
  expiresAt: string;
  mcp: { url: string; token: string };
  integrations: Array<{ name: string; url: string; token: string }>;
}

export const token: Command = {
  name: 'token',
  summary: 'grant an external task its MCP tokens',
  usage,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    if (sub === '--help' || sub === '-h' || sub === 'help') return showHelp(ctx, usage);
    if (sub !== 'grant') {
      throw new UsageError(
        sub ? `unknown subcommand ${JSON.stringify(sub)}` : 'missing subcommand',
        usage,
      );
    }
    const { values } = parseCommandArgs(
      rest,
      {
        ...HELP_OPTION,
        scope: { type: 'string', multiple: true },
        ttl: { type: 'string' },
        prompt: { type: 'string' },
        json: { type: 'boolean' },
        'budget-calls': { type: 'string' },
        'budget-tool': { type: 'string', multiple: true },
        'budget-bytes': { type: 'string' },
        'budget-time': { type: 'string' },
      },
      usage,
    );
    if (values.help) return showHelp(ctx, usage);
    const scope = (values.scope ?? []).flatMap((s) => s.split(/[\s,]+/)).filter((s) => s !== '');
    if (scope.length === 0) throw new UsageError('missing --scope', usage);
    const bad = scope.find((s) => !isScopePattern(s));
    if (bad)
      throw new UsageError(`--scope ${JSON.stringify(bad)}: expected ${SCOPE_EXPECTED}`, usage);
    const granted = (await callGateway(ctx.env, usage, 'POST', '/tasks', {
      external: true,
      scope,
      ...(values.ttl ? { ttl: values.ttl } : {}),
      ...(values.prompt ? { prompt: values.prompt } : {}),
      ...budgetOption(values),
    })) as unknown as Granted;
    if (values.json) {
      ctx.out(JSON.stringify(granted, null, 2));
      return 0;
    }
    // stdout: the /mcp token alone, so `TOKEN=$(switchboard token grant …)` works; the rest on stderr.
    ctx.out(granted.mcp.token);
    ctx.err(
      [
        `task ${granted.task.id}, tokens expire ${granted.expiresAt}`,
        `  ${granted.mcp.url}  (the token above)`,
        ...granted.integrations.map((i) => `  ${i.url}  ${i.token}`),
        `end it with: switchboard task end ${granted.task.id}`,
      ].join('\n'),
    );
    return 0;
  },
};

/** The --budget-* options as the API's `budget` (the gateway validates the values). */
function budgetOption(values: {
  'budget-calls'?: string | undefined;
  'budget-tool'?: string[] | undefined;
  'budget-bytes'?: string | undefined;
  'budget-time'?: string | undefined;
}): { budget?: Record<string, unknown> } {
  const budget: Record<string, unknown> = {};
  const count = (option: string, value: string) => {
    if (!/^\d{1,7}$/.test(value))
      throw new UsageError(`${option} ${JSON.stringify(value)}: expected a whole number`, usage);
    return Number(value);
  };
  if (values['budget-calls'] !== undefined)
    budget.toolCalls = count('--budget-calls', values['budget-calls']);
  if (values['budget-tool'] !== undefined) {
    const perTool: Record<string, number> = {};
    for (const entry of values['budget-tool']) {
      const at = entry.lastIndexOf('=');
      if (at < 0)
        throw new UsageError(`--budget-tool ${JSON.stringify(entry)}: expected PATTERN=N`, usage);
      perTool[entry.slice(0, at)] = count('--budget-tool', entry.slice(at + 1));
    }
    budget.perTool = perTool;
  }
  if (values['budget-bytes'] !== undefined) budget.upstreamBytes = values['budget-bytes'];
  if (values['budget-time'] !== undefined) budget.wallTime = values['budget-time'];
  return Object.keys(budget).length > 0 ? { budget } : {};
}
