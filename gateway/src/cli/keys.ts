import { DURATION_EXPECTED, loadPolicy, parseDuration } from '@switchboard/policy';
import { formatManifestErrors } from '@switchboard/sdk';
import { loadConfig } from '../config.ts';
import { InProcessBus, PostgresBus } from '../db/bus.ts';
import { SwitchboardError, UsageError } from '../errors.ts';
import { grantDescription } from '../keys/scopes.ts';
import { createKey, listKeys, newKeySchema, revokeKey } from '../keys/service.ts';
import type { ApiKeyRow } from '../keys/store.ts';
import { loadMasterKey } from '../secrets/master-key.ts';
import { retireSigningKey } from '../tokens/retire.ts';
import { rotateSigningKey } from '../tokens/signing-keys.ts';
import { issuesOf } from '../validate.ts';
import { type Command, HELP_OPTION, parseCommandArgs, showHelp } from './command.ts';
import { cliActor, withDatabase } from './database.ts';
import { formatTable } from './table.ts';

const usage = `Usage:
  switchboard keys create --name NAME --scopes SCOPE[,SCOPE…] [--json]
  switchboard keys list [--all] [--json]
  switchboard keys revoke ID|PREFIX
  switchboard keys rotate-signing [--overlap 10m]
  switchboard keys retire-signing KID --yes

Operator API keys for /api/v1. The key is printed once by "create" and never again: only its
SHA-256 is stored. Scopes: ${grantDescription()}.
The CLI works on the database, so it may create any key; through the API (POST /api/v1/keys) a
key can only grant scopes it holds itself.
"list --all" includes revoked keys. Every create and revoke writes an audit_log row.

"rotate-signing" adds a new task-token signing key: published in /.well-known/jwks.json at once,
signing after --overlap (default 10m, longer than the 5-minute JWKS cache), while the old key
keeps verifying until its last token has expired (the policy's tokens.maxTtl). Running gateways
pick the new key up within a minute.

"retire-signing" is the emergency for a leaked signing key: KID (the kid in
/.well-known/jwks.json, or as rotate-signing printed it) stops signing and verifying now, every
token it signed is revoked (the agents of running tasks lose their access; mcp-config issues
new tokens), and another key signs from now on. Gateways on the same PostgreSQL drop the key
and its tokens at once (LISTEN/NOTIFY); the embedded database admits no running gateway, so
it starts without the key. It needs --yes. Both write an audit_log row.`;

function table(rows: ApiKeyRow[]): string {
  const header = ['ID', 'PREFIX', 'NAME', 'SCOPES', 'SOURCE', 'CREATED', 'LAST USED', 'REVOKED'];
  const lines = rows.map((r) => [
    r.id,
    r.prefix,
    r.name,
    r.scopes.join(','),
    r.source,
    r.createdAt.toISOString(),
    r.lastUsedAt?.toISOString() ?? '-',
    r.revokedAt?.toISOString() ?? '-',
  ]);
  return formatTable(header, lines);
}

export const keys: Command = {
  name: 'keys',
  summary: 'operator API keys; rotate or retire the token signing key',
  usage,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
      if (sub === undefined) throw new UsageError('missing subcommand', usage);
      ctx.out(usage);
      return 0;
    }
    switch (sub) {
      case 'create': {
        const { values } = parseCommandArgs(
          rest,
          {
            ...HELP_OPTION,
            name: { type: 'string' },
            scopes: { type: 'string' },
            json: { type: 'boolean' },
          },
          usage,
        );
        if (values.help) return showHelp(ctx, usage);
        if (values.name === undefined) throw new UsageError('missing --name', usage);
        if (values.scopes === undefined) throw new UsageError('missing --scopes', usage);
        const scopes = values.scopes
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
        // Validate before opening the database: a typo is a usage error, not a failure.
        const parsed = newKeySchema.safeParse({ name: values.name, scopes });
        if (!parsed.success) {
          const problems = issuesOf(parsed.error).map(
            (i) => `--${i.path.replace(/\[\d+\]$/, '')}: ${i.message}`,
          );
          throw new UsageError(problems.join('; '), usage);
        }
        const created = await withDatabase(ctx, (sql) =>
          createKey(sql, parsed.data, 'cli', { actor: cliActor(ctx.env) }),
        );
        if (values.json) ctx.out(JSON.stringify(created, null, 2));
        else {
          ctx.out(created.key);
          ctx.err(
            `created API key ${created.apiKey.id} (${created.apiKey.prefix}…) "${created.apiKey.name}" ` +
              `with scopes ${created.apiKey.scopes.join(',')}.\nStore it now: it is not shown again.`,
          );
        }
        return 0;
      }
      case 'list': {
        const { values } = parseCommandArgs(
          rest,
          { ...HELP_OPTION, all: { type: 'boolean' }, json: { type: 'boolean' } },
          usage,
        );
        if (values.help) return showHelp(ctx, usage);
        const rows = await withDatabase(ctx, (sql) => listKeys(sql, values.all ?? false));
        ctx.out(values.json ? JSON.stringify({ keys: rows }, null, 2) : table(rows));
        return 0;
      }
      case 'revoke': {
        const { values, positionals } = parseCommandArgs(rest, HELP_OPTION, usage, {
          min: 1,
          max: 1,
        });
        if (values.help) return showHelp(ctx, usage);
        const row = await withDatabase(ctx, (sql) =>
          revokeKey(sql, positionals[0]!, { actor: cliActor(ctx.env) }),
        );
        ctx.out(`revoked API key ${row.id} (${row.prefix}…) "${row.name}"`);
        return 0;
      }
      case 'rotate-signing': {
        const { values } = parseCommandArgs(
          rest,
          { ...HELP_OPTION, overlap: { type: 'string' } },
          usage,
        );
        if (values.help) return showHelp(ctx, usage);
        const overlapMs = parseDuration(values.overlap ?? '10m');
        if (overlapMs === undefined) {
          throw new UsageError(`--overlap: expected ${DURATION_EXPECTED}`, usage);
        }
        const config = loadConfig(ctx.env);
        const policy = loadPolicy(config.policyPath);
        if (!policy.ok) {
          throw new SwitchboardError(
            'policy_invalid',
            `the policy is invalid, so the longest token lifetime is unknown: ${formatManifestErrors(policy.errors)}`,
          );
        }
        const rotated = await withDatabase(ctx, (sql, log) =>
          rotateSigningKey(sql, loadMasterKey(config.masterKey, config.dataDir, log), {
            overlapMs,
            maxTokenTtlMs: policy.policy.tokens.maxTtlMs,
            actor: { actor: cliActor(ctx.env) },
          }),
        );
        ctx.out(
          `signing key ${rotated.kid} is published now and signs from ${rotated.signsFrom.toISOString()}; ` +
            `the previous key verifies until ${new Date(rotated.signsFrom.getTime() + policy.policy.tokens.maxTtlMs).toISOString()}`,
        );
        return 0;
      }
      case 'retire-signing': {
        const { values, positionals } = parseCommandArgs(
          kidsAsPositionals(rest),
          { ...HELP_OPTION, yes: { type: 'boolean' } },
          usage,
          { min: 1, max: 1 },
        );
        if (values.help) return showHelp(ctx, usage);
        if (!values.yes) {
          throw new UsageError(
            `retire-signing revokes every token the key signed, at once: add --yes to do it`,
            usage,
          );
        }
        const config = loadConfig(ctx.env);
        const retired = await withDatabase(ctx, (sql, log) =>
          retireSigningKey(
            {
              sql,
              masterKey: loadMasterKey(config.masterKey, config.dataDir, log),
              // The embedded database admits no other process: nobody to tell.
              bus: config.databaseUrl ? new PostgresBus(sql, log) : new InProcessBus(),
              log,
            },
            positionals[0]!,
            { actor: cliActor(ctx.env) },
          ),
        );
        ctx.out(
          `signing key ${retired.kid} is retired: it no longer signs or verifies; ` +
            `${retired.revokedTokens} tokens of ${retired.tasks} tasks are revoked. ` +
            `Key ${retired.signingKid} signs from now on${retired.created ? ' (new)' : ''}.`,
        );
        if (!retired.announced) {
          ctx.err('running gateways were not told: they drop the key within a minute');
        }
        return 0;
      }
      default:
        throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}`, usage);
    }
  },
};

/** A kid: an RFC 7638 thumbprint, the 43 base64url characters of a SHA-256. */
const KID = /^[A-Za-z0-9_-]{43}$/;

/**
 * One kid in 64 starts with '-', which parseArgs reads as short options ("Unknown option '-c'"):
 * such an argument goes after a `--`, where it can only be the positional KID.
 */
function kidsAsPositionals(args: string[]): string[] {
  const end = args.indexOf('--');
  const before = end === -1 ? args : args.slice(0, end);
  const dashed = before.filter((arg) => arg.startsWith('-') && KID.test(arg));
  if (dashed.length === 0) return args;
  const after = end === -1 ? [] : args.slice(end + 1);
  return [...before.filter((arg) => !dashed.includes(arg)), '--', ...dashed, ...after];
}
