/**
 * One copy of the hostile fixture (test/fixtures/hostile) under `integrationsDir/<name>`, named
 * `name`, with `settings` declared in its manifest and `manifestExtra` appended. No vitest here:
 * the benchmarks (test/bench) copy it too.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HOSTILE_FIXTURE = fileURLToPath(new URL('../fixtures/hostile', import.meta.url));

export function copyHostileFixture(
  integrationsDir: string,
  name: string,
  settings: Record<string, string> = {},
  manifestExtra = '',
): string {
  const dir = path.join(integrationsDir, name);
  fs.cpSync(HOSTILE_FIXTURE, dir, { recursive: true });
  const declared = Object.keys(settings)
    .map((key) => `  - { key: ${key} }`)
    .join('\n');
  const manifest = fs
    .readFileSync(path.join(dir, 'switchboard.yaml'), 'utf8')
    .replace('name: hostile', `name: ${name}`);
  fs.writeFileSync(
    path.join(dir, 'switchboard.yaml'),
    `${manifest}${declared ? `settings:\n${declared}\n` : ''}${manifestExtra}`,
  );
  return dir;
}
