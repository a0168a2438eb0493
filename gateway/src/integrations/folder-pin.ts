import fs from 'node:fs';
import path from 'node:path';
import type { Manifest } from '@switchboard/sdk';
import { SwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { type DigestCache, FolderEscape, hashFolder, UNHASHED } from './folder-hash.ts';
import type { Reason } from './judge.ts';

/**
 * The folder checks of judgement and of every spawn after it (issue 13, item 6):
 * - the manifest's own paths (server command and cwd, skills, each process's command) must
 *   really be in the folder: a symlink among them whose real path leaves it, or enters an
 *   unhashed folder (`.data`, `.git`), is refused as `symlink_escape`, pinned or not;
 * - under a `sha256` pin, the folder is hashed (folder-hash.ts; any symlink leaving it is
 *   `symlink_escape` too) and, since servers and processes start later from the live folder,
 *   hashed again before each spawn: a folder that changed since it was judged refuses the spawn
 *   (`hash_mismatch`) with a log line naming the process. The re-check re-reads only files
 *   whose stat changed; what remains is the moment between that check and exec.
 */

/** A relative path of the manifest that is a symlink out of the folder, if it exists at all. */
async function escapes(root: string, dir: string, rel: string): Promise<string | undefined> {
  let real: string;
  try {
    real = await fs.promises.realpath(path.resolve(dir, rel));
  } catch {
    return undefined; // missing: the spawn fails and says so
  }
  return outsideFolder(root, real) ? real : undefined;
}

/**
 * A real path (symlinks resolved) that is not among the folder's files: outside `root` (also a
 * real path), or inside an unhashed folder (`.data`, `.git`: folder-hash.ts), whose content
 * is the integration's run-time data, never something the gateway reads as its code or skills.
 */
export function outsideFolder(root: string, real: string): boolean {
  const relative = path.relative(root, real);
  const first = relative.split(path.sep)[0] ?? '';
  const outside = relative.startsWith('..') || path.isAbsolute(relative);
  return outside || UNHASHED.has(first);
}

function manifestPaths(manifest: Manifest): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const { server } = manifest;
  if (server.transport === 'stdio') {
    if (server.command.includes('/')) out.push(['server.command', server.command]);
    out.push(['server.cwd', server.cwd ?? '.']);
  }
  if (manifest.skills !== undefined) out.push(['skills', manifest.skills]);
  for (const [index, p] of manifest.processes.entries()) {
    if (p.command.includes('/')) out.push([`processes[${index}].command`, p.command]);
  }
  return out;
}

export interface FolderJudgement {
  reasons: Reason[];
  /** The folder's hash, when the policy pins one and nothing escaped. */
  sha256?: string;
  /** Re-checks the pin before a spawn (undefined when nothing is pinned). */
  pin?: FolderPin;
}

export async function judgeFolder(
  integration: string,
  dir: string,
  manifest: Manifest,
  pinned: string | undefined,
  log: Logger,
): Promise<FolderJudgement> {
  const root = await fs.promises.realpath(dir);
  const reasons: Reason[] = [];
  for (const [field, rel] of manifestPaths(manifest)) {
    const real = await escapes(root, dir, rel);
    if (real !== undefined) {
      reasons.push({
        code: 'symlink_escape',
        message: `${field} "${rel}" resolves to ${real}, outside the integration folder's files`,
      });
    }
  }
  if (pinned === undefined || reasons.length > 0) return { reasons };
  const pin = new FolderPin(integration, dir, pinned.toLowerCase(), log);
  try {
    return { reasons, sha256: await pin.hash(), pin };
  } catch (error) {
    if (!(error instanceof FolderEscape)) throw error;
    return { reasons: [{ code: 'symlink_escape', message: error.message }] };
  }
}

export class FolderPin {
  private readonly cache: DigestCache = new Map();
  /** Checks asked for while one runs share it: 25 instances starting at once walk once. */
  private running: Promise<string> | undefined;

  constructor(
    private readonly integration: string,
    private readonly dir: string,
    private readonly expected: string,
    private readonly log: Logger,
  ) {}

  hash(): Promise<string> {
    this.running ??= hashFolder(this.dir, this.cache).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Throws `hash_mismatch` (and logs why) unless the folder still hashes as pinned. */
  async verify(what: string): Promise<void> {
    let actual: string;
    try {
      actual = await this.hash();
    } catch (error) {
      actual = error instanceof FolderEscape ? error.message : `unreadable: ${String(error)}`;
    }
    if (actual === this.expected) return;
    this.log.error(
      { integration: this.integration, spawn: what, pinned: this.expected, found: actual },
      'integration folder changed since it was judged; spawn refused',
    );
    throw new SwitchboardError(
      'hash_mismatch',
      `integration ${this.integration}: its folder changed since it was judged (pinned sha256 ${this.expected}, now ${actual}); ${what} not started, reload it after reviewing the change`,
    );
  }
}
