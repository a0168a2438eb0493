import { UsageError } from '../errors.ts';
import { CONFIG_FORMATS, type ConfigFormat } from '../runners/files.ts';
import { type Command, HELP_OPTION, parseCommandArgs, showHelp } from './command.ts';
import { callGateway } from './gateway-api.ts';

const usage = `Usage:
  switchboard mcp-config --task ID --format ${CONFIG_FORMATS.join('|')} [--json]

Prints one agent config file for a running task (claude: .mcp.json, codex: config.toml,
cursor: .cursor/mcp.json, goose: config.yaml, json: switchboard.json) on stdout, and on stderr
the environment it refers to as export lines: the tokens, minted fresh for the task's scope
(they are shown once and revoked when the task ends), and when they expire: when the task's
time is up (its timeout, or an external task's granted TTL; at most the policy's maxTtl).
--json prints the whole answer. Asks the running gateway (SWITCHBOARD_URL) with
SWITCHBOARD_API_KEY (scope tasks:write).`;

export const mcpConfig: Command = {
  name: 'mcp-config',
  summary: "print a running task's agent config (fresh tokens)",
  usage,
  async run(args, ctx) {
    const { values } = parseCommandArgs(
      args,
      {
        ...HELP_OPTION,
        task: { type: 'string' },
        format: { type: 'string' },
        json: { type: 'boolean' },
      },
      usage,
    );
    if (values.help) return showHelp(ctx, usage);
    if (values.task === undefined) throw new UsageError('missing --task', usage);
    const format = values.format ?? '';
    if (!(CONFIG_FORMATS as readonly string[]).includes(format)) {
      throw new UsageError(
        `--format ${JSON.stringify(format)}: expected one of ${CONFIG_FORMATS.join(', ')}`,
        usage,
      );
    }
    const json = (await callGateway(
      ctx.env,
      usage,
      'POST',
      `/tasks/${encodeURIComponent(values.task)}/config`,
      { format: format as ConfigFormat },
    )) as { content: string; path: string; env: Record<string, string>; expiresAt: string };
    if (values.json) {
      ctx.out(JSON.stringify(json, null, 2));
      return 0;
    }
    ctx.out(json.content.replace(/\n$/, ''));
    ctx.err(
      [
        `# ${json.path}; the environment it refers to:`,
        ...Object.entries(json.env).map(([k, v]) => `export ${k}=${v}`),
        `# the tokens expire at ${json.expiresAt}, when the task's time is up (its timeout or granted TTL, at most the policy's maxTtl)`,
      ].join('\n'),
    );
    return 0;
  },
};
