import type { Sql } from '../db/connect.ts';
import { SwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { loadProfileSecrets } from '../settings/profile-secrets.ts';
import { AgentFailed } from './worker-end.ts';

/**
 * A run's profile secrets (the worker passes them to the runner), decrypted; a secret that is
 * not set (or was written with another master key) fails the run at once, with a reason code
 * naming it, before any token is minted.
 */
export async function runSecrets(
  sql: Sql,
  masterKey: Buffer,
  run: { profile: string; names: readonly string[] },
  log: Logger,
): Promise<Record<string, string> | AgentFailed> {
  try {
    return await loadProfileSecrets(sql, masterKey, run.profile, run.names);
  } catch (error) {
    if (
      error instanceof SwitchboardError &&
      (error.code === 'profile_secret_missing' || error.code === 'secret_undecryptable')
    ) {
      log.error({ code: error.code, reason: error.message }, 'agent cannot start');
      return new AgentFailed(error.code, error.message);
    }
    throw error;
  }
}
