#!/usr/bin/env node
// `npm run build` (also run by `prepare` on npm install / npm ci, by `prestart`, and by the test
// runs' global setup): compiles sdk, policy, gateway and the TypeScript example servers from
// <package>/src/*.ts into <package>/dist/*.js with source maps (tsconfig.build.json), then bundles
// the operator console into gateway/dist/console-bundle/. Plain JavaScript, so that building
// needs no TypeScript loader either.
//
// `tsc -b` skips a package whose dist/ is newer than its sources (~0.2 s when nothing changed,
// ~1.5–2.5 s for all ~400 files on 2 busy cores), and the build does not type-check
// (noCheck: `npm run typecheck` does), like tsx before it: a type error never stops the gateway
// from starting in development.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
// typescript's package.json exports no ./bin/tsc: the bin by its package folder.
const tsc = path.join(
  path.dirname(createRequire(import.meta.url).resolve('typescript/package.json')),
  'bin/tsc',
);
const compiled = spawnSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], {
  cwd: root,
  stdio: 'inherit',
});
if (compiled.status !== 0) {
  console.error('build: tsc failed');
  process.exit(compiled.status ?? 1);
}
const { writeConsoleBundle } = await import('../gateway/dist/console/assets.js');
await writeConsoleBundle();
