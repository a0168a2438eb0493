import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.ts';

/** A folder that holds a switchboard.yaml, before its manifest is read. */
export interface Candidate {
  dir: string;
  folder: string;
  root: string;
}

export const MANIFEST_FILE = 'switchboard.yaml';

/**
 * Every `<root>/<folder>/switchboard.yaml`, roots in INTEGRATION_DIRS order. Folders starting
 * with `_` or `.` are skipped (drafts, hidden). A missing root is logged, not fatal: one bad
 * path must not stop the gateway. Overrides between roots are decided by manifest name later.
 */
export function discoverCandidates(roots: string[], log: Logger): Candidate[] {
  const found: Candidate[] = [];
  for (const root of roots) {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(root, { withFileTypes: true });
    } catch (error) {
      log.warn({ root, err: error }, 'integration folder cannot be read; skipped');
      continue;
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (!entry.isDirectory() || entry.name.startsWith('_') || entry.name.startsWith('.'))
        continue;
      const dir = path.join(root, entry.name);
      if (fs.existsSync(path.join(dir, MANIFEST_FILE)))
        found.push({ dir, folder: entry.name, root });
    }
  }
  return found;
}
