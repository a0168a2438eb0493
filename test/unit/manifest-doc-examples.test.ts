/**
 * docs/manifest.md's manifests are real: "A complete example" (every section, the capabilities
 * each needs) and "the smallest manifest" parse with the sdk's schema and cross-field rules.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseManifest } from '@switchboard/sdk';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/gateway.ts';

const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs/manifest.md'), 'utf8');

/** The first ```yaml block after `heading` (a line of the document). */
function yamlAfter(heading: string): string {
  const at = doc.indexOf(heading);
  expect(at, heading).toBeGreaterThanOrEqual(0);
  const block = /```yaml\n([\s\S]*?)```/.exec(doc.slice(at));
  expect(block, `a yaml block after ${heading}`).not.toBeNull();
  return block![1]!;
}

describe('docs/manifest.md examples', () => {
  it.each([
    ['## A complete example', 'github'],
    ['The smallest manifest is', 'tickets'],
  ])('%s parses (%s)', (heading, name) => {
    const result = parseManifest(yamlAfter(heading), 'docs/manifest.md');
    expect(result.ok ? [] : result.errors).toEqual([]);
    expect(result.ok && result.manifest.name).toBe(name);
  });
});
