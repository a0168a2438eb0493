import fs from 'node:fs';
import path from 'node:path';
import { type Database, openDatabase } from '../../db/connect.ts';
import { migrationStatus, readMigrations } from '../../db/migrate.ts';
import { SwitchboardError } from '../../errors.ts';
import { createLogger } from '../../log.ts';
import { type DoctorState, error, type Finding, ok, warning } from './finding.ts';

const CHECK = 'database';

/**
 * How long doctor waits for the database: postgres.js gives up a connection after 5 s
 * (db/connect.ts connect_timeout); 10 s also covers opening an existing embedded database.
 */
const DATABASE_WAIT_MS = 10_000;

/**
 * Beyond this the clocks disagree enough to matter: task tokens are verified with a 5 s clock
 * tolerance (tokens/service.ts CLOCK_TOLERANCE_S), so a larger skew between replicas, or between
 * this host and the database that stamps leases and token rows, misjudges expiries; webhook
 * timestamps (±5 minutes, webhooks/signatures.ts) fail only much later, so the first symptom
 * is tokens.
 */
export const CLOCK_SKEW_WARN_MS = 5_000;

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Reachable, migrated (this build's migrations against the applied ones, as /readyz judges), and
 * its clock against ours. Opens the database and leaves it open in `state.sql` for the
 * integration checks (stored settings); doctor.ts closes it. Never creates a database: an
 * embedded one that does not exist yet is reported, not initialised.
 */
export async function checkDatabase(state: DoctorState): Promise<{
  findings: Finding[];
  database: Database | undefined;
}> {
  const config = state.config;
  if (!config) return { findings: [], database: undefined };
  const where = config.databaseUrl ? 'DATABASE_URL' : `the embedded database in ${config.dataDir}`;
  if (!config.databaseUrl && !fs.existsSync(path.join(config.dataDir, 'pgdata', 'PG_VERSION'))) {
    return {
      findings: [
        warning(
          CHECK,
          `no embedded database in ${config.dataDir} yet (stored settings were not checked)`,
          'none needed: "switchboard start" (or "switchboard migrate") creates it; set SWITCHBOARD_DATA_DIR if it lives elsewhere',
        ),
      ],
      database: undefined,
    };
  }
  let database: Database;
  const opening = openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    log: createLogger('silent'),
    max: 1,
    embeddedMemory: config.embeddedMemory,
  });
  try {
    database = await withDeadline(opening, DATABASE_WAIT_MS, `opening ${where}`);
  } catch (caught) {
    // A late success after the deadline must not leave a pool (or the embedded lock) behind.
    opening.then((late) => late.close()).catch(() => {});
    if (caught instanceof SwitchboardError && caught.code === 'database_in_use') {
      return {
        findings: [
          warning(
            CHECK,
            `${caught.message} Migrations and stored settings were not checked.`,
            'run doctor while the gateway is stopped, or use DATABASE_URL (PostgreSQL) to check it alongside',
          ),
        ],
        database: undefined,
      };
    }
    return {
      findings: [
        error(
          CHECK,
          `cannot reach ${where}: ${(caught as Error).message}`,
          config.databaseUrl
            ? 'start the PostgreSQL server, or correct host, port, user, password and database in DATABASE_URL'
            : `check that ${config.dataDir} is readable and writable, or set DATABASE_URL`,
        ),
      ],
      database: undefined,
    };
  }
  state.sql = database.sql;
  const findings: Finding[] = [ok(CHECK, `reachable (${database.description})`)];
  try {
    const migrations = readMigrations();
    const status = await migrationStatus(database.sql, migrations);
    const pending = status.latest - status.applied;
    findings.push(
      pending === 0
        ? ok(CHECK, `migrated (${status.applied} migrations)`)
        : warning(
            CHECK,
            `${pending} migration${pending === 1 ? '' : 's'} pending (${status.applied} of ${status.latest} applied)`,
            'switchboard migrate (start also applies them)',
          ),
    );
    if (pending > 0) state.sql = undefined; // the settings table may not exist yet
  } catch (caught) {
    state.sql = undefined;
    findings.push(
      error(
        CHECK,
        `migrations: ${(caught as Error).message}`,
        'run the Switchboard version that applied them, or restore the database from a backup',
      ),
    );
  }
  findings.push(...(await clockFindings(database)));
  return { findings, database };
}

async function clockFindings(database: Database): Promise<Finding[]> {
  const before = Date.now();
  const [row] = await database.sql<{ now: Date }[]>`select now() as now`;
  const after = Date.now();
  // The database's answer is taken at the middle of the round trip.
  const skew = row!.now.getTime() - (before + after) / 2;
  const seconds = (Math.abs(skew) / 1000).toFixed(1);
  if (Math.abs(skew) <= CLOCK_SKEW_WARN_MS) {
    return [ok('clock', `within ${seconds} s of the database's now()`)];
  }
  return [
    warning(
      'clock',
      `this machine's clock is ${seconds} s ${skew > 0 ? 'behind' : 'ahead of'} the database's now() (more than ${CLOCK_SKEW_WARN_MS / 1000} s: token expiries and webhook timestamps are judged wrong)`,
      'synchronise the clocks with NTP (e.g. timedatectl set-ntp true) on this machine and the database host',
    ),
  ];
}
