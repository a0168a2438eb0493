/**
 * run.ts's command line: which endpoints and eras, one scenario, the database, where results go.
 */
import path from 'node:path';
import { ERAS, type Era } from './era.ts';
import { ENDPOINTS, type EndpointName } from './gateway.ts';
import { REPO_ROOT } from './lifecycle.ts';

export interface Options {
  endpoints: EndpointName[];
  eras: Era[];
  scenario: string | undefined;
  /** A PostgreSQL server to run on (a fresh database is made there); embedded PGlite without. */
  databaseUrl: string | undefined;
  results: string;
}

export const USAGE = `Usage: npx tsx test/conformance/run.ts [options]

  --endpoint      fixture (/mcp/fixture), aggregate (/mcp) or all (default: all)
  --era           2025-11-25, 2026-07-28 or all (default: all, one after the other)
  --scenario      run one scenario at the era's wire version instead of the requirement set,
                  without the baseline (for investigating; the exit code is the suite's own)
  --database-url  a PostgreSQL server (postgres://…): the gateway runs on a fresh database made
                  there, dropped afterwards (default: $DATABASE_URL; unset: embedded PGlite)
  --results       where results go (default: results/conformance)`;

export class UsageError extends Error {}

export function parseArgs(argv: string[]): Options {
  const options: Options = {
    endpoints: [...ENDPOINTS],
    eras: [...ERAS],
    scenario: undefined,
    databaseUrl: process.env.DATABASE_URL || undefined,
    results: path.join(REPO_ROOT, 'results/conformance'),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (flag === '--era') {
      const era = value();
      if (era === 'all') options.eras = [...ERAS];
      else if ((ERAS as readonly string[]).includes(era)) options.eras = [era as Era];
      else throw new UsageError(`--era: expected ${ERAS.join(', ')} or all, got ${era}`);
    } else if (flag === '--endpoint') {
      const endpoint = value();
      if (endpoint === 'all') options.endpoints = [...ENDPOINTS];
      else if ((ENDPOINTS as readonly string[]).includes(endpoint))
        options.endpoints = [endpoint as EndpointName];
      else
        throw new UsageError(
          `--endpoint: expected ${ENDPOINTS.join(', ')} or all, got ${endpoint}`,
        );
    } else if (flag === '--scenario') {
      options.scenario = value();
    } else if (flag === '--database-url') {
      options.databaseUrl = value();
    } else if (flag === '--results') {
      options.results = path.resolve(value());
    } else {
      throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  if (options.databaseUrl !== undefined) {
    let protocol = '';
    try {
      protocol = new URL(options.databaseUrl).protocol;
    } catch {}
    if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
      throw new UsageError('--database-url: expected a postgres:// URL');
    }
  }
  return options;
}
