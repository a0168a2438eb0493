import { UsageError } from '../errors.ts';
import { type Command, HELP_OPTION, parseCommandArgs, showHelp } from './command.ts';
import { callGateway } from './gateway-api.ts';
import { readStdinValue } from './stdin-value.ts';
import { formatTable } from './table.ts';

const usage = `Usage:
  switchboard profiles secrets set PROFILE NAME      (the value on standard input)
  switchboard profiles secrets list PROFILE [--json]
  switchboard profiles secrets unset PROFILE NAME

A profile's secrets (model API keys, base URLs) are named in the policy
(profiles.<name>.secrets: [ANTHROPIC_API_KEY]) and valued here: stored encrypted, put into the
environment of that profile's agents only, never shown again ("list" says set or unset). "set"
reads the value from standard input (one trailing newline dropped) and refuses a terminal, where
the value would be echoed; pipe it, e.g.
  read -rs KEY && printf '%s' "$KEY" | switchboard profiles secrets set claude ANTHROPIC_API_KEY
  pass show anthropic | switchboard profiles secrets set claude ANTHROPIC_API_KEY
Setting it again replaces it (rotation): tasks started afterwards get the new value.
Asks the running gateway (SWITCHBOARD_URL) with SWITCHBOARD_API_KEY (or SWITCHBOARD_ADMIN_KEY):
scopes profiles:read / profiles:write.`;

interface SecretStatus {
  name: string;
  declared: boolean;
  set: boolean;
  updatedAt: string | null;
  updatedBy: string | null;
}

const route = (profile: string, name?: string) =>
  `/profiles/${encodeURIComponent(profile)}/secrets${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;

export const profiles: Command = {
  name: 'profiles',
  summary: "set, list and unset a policy profile's secrets (model API keys)",
  usage,
  async run(args, ctx) {
    const [group, verb, ...rest] = args;
    if (group === '--help' || group === '-h' || group === 'help') return showHelp(ctx, usage);
    if (group !== 'secrets')
      throw new UsageError(
        group === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(group)}`,
        usage,
      );
    switch (verb) {
      case 'set': {
        const { positionals } = parseCommandArgs(rest, HELP_OPTION, usage, { min: 2, max: 2 });
        const [profile, name] = positionals as [string, string];
        // A terminal echoes what is typed (and keeps it on screen): only a pipe or a file.
        if ((ctx.stdin as { isTTY?: boolean } | undefined)?.isTTY)
          throw new UsageError(
            `standard input is a terminal, which would echo the value of ${name}: pipe it in (see the examples)`,
            usage,
          );
        const value = await readStdinValue(ctx, name, usage);
        const json = await callGateway(ctx.env, usage, 'PUT', route(profile, name), { value });
        ctx.out(
          `${json.replaced ? 'replaced' : 'set'} ${profile}/${name} (stored encrypted); tasks of ${profile} started from now on get it`,
        );
        return 0;
      }
      case 'list': {
        const { values, positionals } = parseCommandArgs(
          rest,
          { ...HELP_OPTION, json: { type: 'boolean' } },
          usage,
          { min: 1, max: 1 },
        );
        const json = await callGateway(ctx.env, usage, 'GET', route(positionals[0]!));
        if (values.json) {
          ctx.out(JSON.stringify(json, null, 2));
          return 0;
        }
        const secrets = json.secrets as SecretStatus[];
        ctx.out(
          formatTable(
            ['NAME', 'STATE', 'UPDATED', 'BY'],
            secrets.map((s) => [
              s.name,
              s.set ? (s.declared ? 'set' : 'set (not declared: unset it)') : 'unset',
              s.updatedAt ?? '-',
              s.updatedBy ?? '-',
            ]),
          ),
        );
        return 0;
      }
      case 'unset': {
        const { positionals } = parseCommandArgs(rest, HELP_OPTION, usage, { min: 2, max: 2 });
        const [profile, name] = positionals as [string, string];
        const json = await callGateway(ctx.env, usage, 'DELETE', route(profile, name));
        ctx.out(json.removed ? `unset ${profile}/${name}` : `${profile}/${name} was not set`);
        return 0;
      }
      default:
        throw new UsageError(
          verb === undefined
            ? 'missing secrets verb'
            : `unknown secrets verb ${JSON.stringify(verb)}`,
          usage,
        );
    }
  },
};
