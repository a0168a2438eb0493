import type { Policy } from '@switchboard/policy';
import type { Config } from '../../config.ts';
import type { Pool } from '../../db/connect.ts';

/**
 * One thing `switchboard doctor` found: how bad it is, what it is about, what was found and the
 * fix (a command to run, or the exact file and field to change). `ok` findings say what was
 * checked and passed, so a clean run still shows what it covered.
 */
export type Severity = 'error' | 'warning' | 'ok';

export interface Finding {
  severity: Severity;
  /** The check and its subject, e.g. `config`, `database`, `integration weather`. */
  check: string;
  found: string;
  /** Absent on `ok` findings. */
  fix?: string;
}

/** What the checks share; later checks use what earlier ones established. */
export interface DoctorState {
  env: NodeJS.ProcessEnv;
  /** undefined: the configuration did not load; checks that need it report nothing. */
  config: Config | undefined;
  /** The open database when it was reachable (closed by doctor.ts at the end). */
  sql: Pool | undefined;
  /** The master key the gateway would use, when known without generating one. */
  masterKey: Buffer | undefined;
  /** The policy when it loaded. */
  policy: Policy | undefined;
  /** Manifest names of the integration folders found (for the policy's checks). */
  integrationNames: Set<string>;
  /** --probe: start each granted stdio server (bounded, contained) and check its tools. */
  probe: boolean;
}

export const error = (check: string, found: string, fix: string): Finding => ({
  severity: 'error',
  check,
  found,
  fix,
});
export const warning = (check: string, found: string, fix: string): Finding => ({
  severity: 'warning',
  check,
  found,
  fix,
});
export const ok = (check: string, found: string): Finding => ({ severity: 'ok', check, found });
