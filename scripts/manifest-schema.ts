/**
 * Writes docs/manifest.schema.json from the sdk's zod schema, so editors validate
 * switchboard.yaml as the gateway does (except the cross-field rules).
 *
 *   npx tsx --conditions=switchboard-source scripts/manifest-schema.ts            write the file
 *   npx tsx --conditions=switchboard-source scripts/manifest-schema.ts --check    exit 1 if stale
 *
 * The condition makes @switchboard/sdk its sources (src/), not its last build (dist/).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { renderManifestJsonSchema } from '@switchboard/sdk';

export const SCHEMA_FILE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../docs/manifest.schema.json',
);

export interface SchemaCheck {
  file: string;
  current: boolean;
  /** Why it is not current: missing, or the first line that differs. */
  problem?: string;
}

/** Compare the file with what the schema renders to now; never writes. */
export function checkManifestSchema(file: string = SCHEMA_FILE): SchemaCheck {
  if (!existsSync(file)) return { file, current: false, problem: 'the file does not exist' };
  const want = renderManifestJsonSchema().split('\n');
  const have = readFileSync(file, 'utf8').split('\n');
  const line = want.findIndex((text, i) => have[i] !== text);
  if (line === -1 && have.length === want.length) return { file, current: true };
  const at = line === -1 ? Math.min(have.length, want.length) : line;
  return {
    file,
    current: false,
    problem: `line ${at + 1} differs: has ${JSON.stringify(have[at] ?? '(end of file)')}, schema gives ${JSON.stringify(want[at] ?? '(end of file)')}`,
  };
}

export function writeManifestSchema(file: string = SCHEMA_FILE): void {
  writeFileSync(file, renderManifestJsonSchema());
}

function main(argv: string[]): number {
  const relative = path.relative(process.cwd(), SCHEMA_FILE);
  if (argv.includes('--check')) {
    const check = checkManifestSchema();
    if (check.current) {
      console.log(`${relative} is current`);
      return 0;
    }
    console.error(
      `${relative} is stale (${check.problem}); run: npx tsx --conditions=switchboard-source scripts/manifest-schema.ts`,
    );
    return 1;
  }
  writeManifestSchema();
  console.log(`wrote ${relative}`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
