import { type AuditActor, appendAudit } from '../audit/store.ts';
import type { Pool, Sql } from '../db/connect.ts';
import { SwitchboardError } from '../errors.ts';
import { decryptSecret, encryptSecret } from '../secrets/cipher.ts';

/**
 * The secrets of a policy profile (issue 15): model API keys and base URLs an agent needs, named
 * in the policy (`profiles.<name>.secrets`) and valued only here, encrypted with the master key
 * (secrets/cipher.ts, the one cipher) in `profile_secrets` (migration 0008). Set and unset by an
 * operator key with profiles:write (api/profiles.ts); decrypted by the task worker when a run
 * starts, into that profile's agent environment only. The audit rows name the secret, never
 * its value.
 */

/**
 * A value must be at least 8 characters: the worker removes secret values from the agent's
 * recorded output (tasks/output-redaction.ts), and a shorter one ("1", "us") would blank out
 * ordinary words. Anything that short is no credential; put it in runner.env instead.
 */
export const SECRET_MIN_CHARS = 8;
/** 16 KiB holds a PEM private key several times over; environments are not for more. */
export const SECRET_MAX_BYTES = 16 * 1024;

/**
 * The associated data binds a ciphertext to its profile and name. Integration settings use
 * `<integration>/<key>` and integration names have no `:`, so a settings ciphertext (another
 * integration's token) copied into this table fails to decrypt instead of reaching an agent.
 */
const aad = (profile: string, name: string) => `profile:${profile}/${name}`;

export interface ProfileSecretStatus {
  name: string;
  /** Named in the policy's `secrets:` for this profile. */
  declared: boolean;
  set: boolean;
  updatedAt: Date | null;
  updatedBy: string | null;
}

/** Throws profile_secret_invalid for a value no environment can carry or redaction can find. */
export function checkSecretValue(name: string, value: string): void {
  const invalid = (why: string) =>
    new SwitchboardError('profile_secret_invalid', `the value of ${name} ${why}`);
  if (value.length < SECRET_MIN_CHARS)
    throw invalid(
      `is shorter than ${SECRET_MIN_CHARS} characters: too short to be a credential, and to be told apart from ordinary output when it is redacted; put a value that is not secret in the profile's runner.env`,
    );
  if (Buffer.byteLength(value) > SECRET_MAX_BYTES)
    throw invalid(`is over ${SECRET_MAX_BYTES / 1024} KiB`);
  // An environment variable is a C string: a NUL would cut it short without a word.
  if (value.includes('\0')) throw invalid('contains a NUL character');
}

function requireDeclared(profile: string, declared: readonly string[], name: string): void {
  if (declared.includes(name)) return;
  throw new SwitchboardError(
    'profile_secret_unknown',
    `profile ${profile} declares no secret ${name}; declared: ${declared.join(', ') || 'none'} (add it to profiles.${profile}.secrets in the policy first)`,
  );
}

/** Sets (or replaces, in place) one declared secret of a profile; audited without the value. */
export async function setProfileSecret(
  sql: Pool,
  input: {
    profile: string;
    declared: readonly string[];
    name: string;
    value: string;
    masterKey: Buffer;
  } & AuditActor,
): Promise<{ replaced: boolean; updatedAt: Date }> {
  requireDeclared(input.profile, input.declared, input.name);
  checkSecretValue(input.name, input.value);
  const encrypted = encryptSecret(input.masterKey, input.value, aad(input.profile, input.name));
  return sql.begin(async (tx) => {
    const before = await tx`
      select 1 from profile_secrets where profile = ${input.profile} and name = ${input.name}
      for update`;
    const [row] = await tx<{ updatedAt: Date }[]>`
      insert into profile_secrets (profile, name, value_encrypted, updated_by)
      values (${input.profile}, ${input.name}, ${encrypted}, ${input.actor})
      on conflict (profile, name) do update set
        value_encrypted = excluded.value_encrypted, updated_by = excluded.updated_by,
        updated_at = now()
      returning updated_at as "updatedAt"`;
    const replaced = before.length > 0;
    await appendAudit(tx, {
      actor: input.actor,
      apiKeyId: input.apiKeyId,
      requestId: input.requestId,
      action: 'profiles.secrets.set',
      target: `${input.profile}/${input.name}`,
      details: { replaced },
    });
    return { replaced, updatedAt: row!.updatedAt };
  });
}

/** Removes one secret (declared or left over from an older policy); false when none was set. */
export async function unsetProfileSecret(
  sql: Pool,
  input: { profile: string; name: string } & AuditActor,
): Promise<boolean> {
  return sql.begin(async (tx) => {
    const result = await tx`
      delete from profile_secrets where profile = ${input.profile} and name = ${input.name}`;
    const removed = result.count > 0;
    await appendAudit(tx, {
      actor: input.actor,
      apiKeyId: input.apiKeyId,
      requestId: input.requestId,
      action: 'profiles.secrets.unset',
      target: `${input.profile}/${input.name}`,
      details: { removed },
    });
    return removed;
  });
}

/**
 * Every declared name (set or not) and every stored one the policy no longer declares (so an
 * operator sees what to unset), by name. Never a value: the ciphertext is not even read.
 */
export async function listProfileSecrets(
  sql: Sql,
  profile: string,
  declared: readonly string[],
): Promise<ProfileSecretStatus[]> {
  const rows = await sql<{ name: string; updatedAt: Date; updatedBy: string }[]>`
    select name, updated_at as "updatedAt", updated_by as "updatedBy"
    from profile_secrets where profile = ${profile} order by name`;
  const stored = new Map(rows.map((r) => [r.name, r]));
  const names = [...new Set([...declared, ...stored.keys()])].sort();
  return names.map((name) => {
    const row = stored.get(name);
    return {
      name,
      declared: declared.includes(name),
      set: row !== undefined,
      updatedAt: row?.updatedAt ?? null,
      updatedBy: row?.updatedBy ?? null,
    };
  });
}

/**
 * The declared secrets of a profile that are set, decrypted, and the names that are not set.
 * Throws secret_undecryptable when the master key is not the one a value was written with.
 */
export async function readProfileSecrets(
  sql: Sql,
  masterKey: Buffer,
  profile: string,
  declared: readonly string[],
): Promise<{ values: Record<string, string>; missing: string[] }> {
  if (declared.length === 0) return { values: {}, missing: [] };
  const rows = await sql<{ name: string; valueEncrypted: Uint8Array }[]>`
    select name, value_encrypted as "valueEncrypted"
    from profile_secrets
    where profile = ${profile} and name = any(${declared as string[]}::text[])`;
  const found = new Map(rows.map((r) => [r.name, Buffer.from(r.valueEncrypted)]));
  const values: Record<string, string> = {};
  const missing: string[] = [];
  for (const name of declared) {
    const stored = found.get(name);
    if (stored) values[name] = decryptSecret(masterKey, stored, aad(profile, name));
    else missing.push(name);
  }
  return { values, missing };
}

/**
 * The declared secrets of a profile, decrypted, for one run of its agent. Throws
 * profile_secret_missing (naming the profile and every unset name) when one is not set, and
 * secret_undecryptable when the master key is not the one a value was written with.
 */
export async function loadProfileSecrets(
  sql: Sql,
  masterKey: Buffer,
  profile: string,
  declared: readonly string[],
): Promise<Record<string, string>> {
  const { values, missing } = await readProfileSecrets(sql, masterKey, profile, declared);
  if (missing.length > 0) {
    throw new SwitchboardError(
      'profile_secret_missing',
      `profile ${profile} declares the secret${missing.length === 1 ? '' : 's'} ${missing.join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not set: set ${missing.length === 1 ? 'it' : 'each'} with  switchboard profiles secrets set ${profile} ${missing[0]}  (the value on standard input)`,
      { details: { profile, missing } },
    );
  }
  return values;
}
