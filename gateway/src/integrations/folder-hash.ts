import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Folders that are build or runtime output, not the integration as shipped. */
const SKIPPED = new Set(['node_modules', '.git', '.data', '__pycache__', 'dist']);

/**
 * sha256 over every file of an integration folder (relative path, NUL, content, NUL; sorted),
 * for the policy's `sha256` pin. Symlinks are hashed as their target path, never followed.
 */
export function hashFolder(dir: string): string {
  const hash = createHash('sha256');
  const walk = (rel: string) => {
    const entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (SKIPPED.has(entry.name)) continue;
      const child = path.posix.join(rel, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (entry.isSymbolicLink()) {
        hash.update(`${child}\0->${fs.readlinkSync(path.join(dir, child))}\0`);
      } else if (entry.isFile()) {
        hash.update(`${child}\0`);
        hash.update(fs.readFileSync(path.join(dir, child)));
        hash.update('\0');
      }
    }
  };
  walk('');
  return hash.digest('hex');
}
