import fs from 'node:fs';
import path from 'node:path';
import { decodeMasterKey, loadConfig, unknownVariables } from '../../config.ts';
import { ConfigError } from '../../errors.ts';
import { refuseDevelopmentDefaults } from '../../production-mode.ts';
import { type DoctorState, error, type Finding, ok, warning } from './finding.ts';

const CHECK = 'config';

/** `NAME=value: expected …` (config.ts) → NAME, to name the variable in the fix. */
function variableOf(problem: string): string {
  return /^([A-Z_][A-Z0-9_]*)=/.exec(problem)?.[1] ?? 'the variable named on the left';
}

/**
 * The environment as `start` reads it (config.ts loadConfig, the same ConfigError lines), the
 * production refusals (production-mode.ts), the master key and the admin key.
 */
export function checkConfig(state: DoctorState): Finding[] {
  const findings: Finding[] = [];
  try {
    state.config = loadConfig(state.env);
  } catch (caught) {
    if (!(caught instanceof ConfigError)) throw caught;
    return caught.problems.map((problem) =>
      error(
        CHECK,
        problem,
        `set ${variableOf(problem)} in the gateway's environment to what the line expects (docs/operator-guide.md "Configuration")`,
      ),
    );
  }
  const config = state.config;
  findings.push(
    ok(CHECK, `environment loads (port ${config.port}, mode ${config.mode}, host ${config.host})`),
  );
  try {
    refuseDevelopmentDefaults(config);
  } catch (caught) {
    if (!(caught instanceof ConfigError)) throw caught;
    for (const problem of caught.problems) {
      findings.push(
        error(
          CHECK,
          problem,
          `set ${variableOf(problem)} as the line says, or SWITCHBOARD_MODE=development on a laptop`,
        ),
      );
    }
  }
  for (const name of unknownVariables(state.env)) {
    findings.push(
      warning(
        CHECK,
        `${name} is set but this build does not read it (a typo?)`,
        `rename or unset ${name} (the variables: docs/operator-guide.md "Configuration")`,
      ),
    );
  }
  findings.push(...masterKeyFindings(state));
  findings.push(
    config.adminKey
      ? ok(CHECK, 'SWITCHBOARD_ADMIN_KEY is set and well-formed')
      : warning(
          CHECK,
          'SWITCHBOARD_ADMIN_KEY is unset: the API and the console accept only keys made with "switchboard keys create"',
          `set SWITCHBOARD_ADMIN_KEY=$(openssl rand -hex 32), or create a key: switchboard keys create --name operator --scopes '*'`,
        ),
  );
  return findings;
}

/** The key that encrypts stored secrets: configured, or the one generated into the data dir. */
function masterKeyFindings(state: DoctorState): Finding[] {
  const config = state.config!;
  if (config.masterKey) {
    state.masterKey = config.masterKey;
    return [ok(CHECK, 'SWITCHBOARD_MASTER_KEY is set (32 bytes)')];
  }
  const file = path.join(config.dataDir, 'master.key');
  if (!fs.existsSync(file)) {
    // production mode is refused above already; in development start generates one.
    return config.mode === 'production'
      ? []
      : [
          warning(
            CHECK,
            `SWITCHBOARD_MASTER_KEY is unset and ${file} does not exist yet: start generates one there (development only)`,
            'for production set SWITCHBOARD_MASTER_KEY=$(openssl rand -base64 32) and keep it safe',
          ),
        ];
  }
  const key = decodeMasterKey(fs.readFileSync(file, 'utf8').trim());
  if (!key) {
    return [
      error(
        CHECK,
        `${file} does not hold a 32-byte key (64 hex characters or base64)`,
        `restore ${file} from a backup, or set SWITCHBOARD_MASTER_KEY to the key the secrets were stored with`,
      ),
    ];
  }
  state.masterKey = key;
  return config.mode === 'production'
    ? []
    : [
        warning(
          CHECK,
          `SWITCHBOARD_MASTER_KEY is unset: the key generated in ${file} is used (development only)`,
          'for production set SWITCHBOARD_MASTER_KEY to that key (or a new one before any secret is stored)',
        ),
      ];
}
