import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

/**
 * Top-level folders never hashed, and why neither can change what runs:
 * - `.git`: version-control metadata. The gateway executes nothing from it (hooks run only
 *   under git commands) and it changes on every fetch, which would break the pin for nothing.
 * - `.data`: the folder an integration writes at run time (notes keeps notes.json there), so
 *   hashing it would make every spawn after the first refuse itself. It must stay data: the
 *   manifest's command, cwd, skills and processes may not point into it, nor may a symlink
 *   anywhere in the folder (folder-paths.ts), so nothing the gateway starts is read from it.
 * Everything else is hashed, `node_modules`, `dist` and `__pycache__` included: each holds code
 * that runs (a changed dependency or compiled file is as much a change as a changed source).
 */
export const UNHASHED = new Set(['.git', '.data']);

/** A symlink in the folder whose target is outside it (or inside an unhashed folder). */
export class FolderEscape extends Error {
  constructor(
    readonly relPath: string,
    readonly target: string,
  ) {
    super(
      `${relPath} is a symlink to ${target}, outside the integration folder's hashed files: the pin cannot cover what it runs`,
    );
  }
}

/**
 * What a file's digest is cached under: device, inode, size, mode and both times in
 * nanoseconds. `ctime` cannot be set back by anybody writing the file (utimes sets only atime
 * and mtime), so a file with the same key has the same content.
 */
function statKey(s: fs.BigIntStats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mode}:${s.mtimeNs}:${s.ctimeNs}`;
}

/**
 * A file changed within this long of its last hashing may share its ctime tick with the change
 * (coarse kernel clocks tick every 1–10 ms; 2 s is far beyond that): it is not cached, as git
 * treats a "racily clean" entry.
 */
const RACY_NS = 2_000_000_000n;

/**
 * Entries of one directory stat'ed and read at once: enough to keep libuv's 4 file-system
 * threads busy (a 7,569-file, 244 MB node_modules: cached re-check 2.3 s → 1.4 s here), few
 * enough that 64 open files stay far below any descriptor limit.
 */
const PARALLEL = 64;

/** File digests by absolute path, so a re-check reads only files whose stat changed. */
export type DigestCache = Map<string, { key: string; digest: string }>;

async function fileDigest(file: string, stat: fs.BigIntStats, cache?: DigestCache) {
  const key = statKey(stat);
  const cached = cache?.get(file);
  if (cached && cached.key === key) return cached.digest;
  const hash = createHash('sha256');
  // Streamed: a large file costs time, not memory.
  await pipeline(fs.createReadStream(file), hash);
  const digest = hash.digest('hex');
  const now = BigInt(Date.now()) * 1_000_000n;
  if (cache && now - stat.ctimeNs > RACY_NS) cache.set(file, { key, digest });
  return digest;
}

function inside(root: string, real: string): boolean {
  return real === root || real.startsWith(root + path.sep);
}

/** The top-level unhashed folder `real` lies in, if any. */
function inUnhashed(root: string, real: string): boolean {
  const first = path.relative(root, real).split(path.sep)[0] ?? '';
  return UNHASHED.has(first);
}

/**
 * sha256 of an integration folder for the policy's `sha256` pin: every entry in name order
 * (its relative path and kind; a file's executable bit and content digest; a symlink's target
 * relative to the folder and, for a file, the target's content). Throws FolderEscape for a
 * symlink whose real path leaves the folder or enters an unhashed one (see UNHASHED).
 * Special files (FIFOs, sockets) are recorded by kind and never opened: a FIFO would block.
 */
export async function hashFolder(dir: string, cache?: DigestCache): Promise<string> {
  const root = await fs.promises.realpath(dir);
  const hash = createHash('sha256');
  /** A directory's record, or the text of any other entry (files read in parallel). */
  const describe = async (child: string): Promise<string | { dir: string }> => {
    const abs = path.join(root, child);
    const stat = await fs.promises.lstat(abs, { bigint: true });
    if (stat.isDirectory()) return { dir: `D ${child}\0` };
    if (stat.isFile()) {
      const exec = (stat.mode & 0o111n) !== 0n ? 'x' : '-';
      return `F ${child}\0${exec}\0${await fileDigest(abs, stat, cache)}\0`;
    }
    if (stat.isSymbolicLink()) return linkEntry(root, child, abs, cache);
    return `O ${child}\0`;
  };
  const walk = async (rel: string): Promise<void> => {
    const names = (await fs.promises.readdir(path.join(root, rel)))
      .filter((name) => rel !== '' || !UNHASHED.has(name))
      .sort();
    for (let i = 0; i < names.length; i += PARALLEL) {
      const children = names.slice(i, i + PARALLEL).map((name) => path.posix.join(rel, name));
      const described = await Promise.all(children.map(describe));
      // Recorded in name order whatever order the reads finished in.
      for (const [index, entry] of described.entries()) {
        if (typeof entry === 'string') {
          hash.update(entry);
        } else {
          hash.update(entry.dir);
          await walk(children[index]!);
        }
      }
    }
  };
  await walk('');
  return hash.digest('hex');
}

async function linkEntry(
  root: string,
  child: string,
  abs: string,
  cache?: DigestCache,
): Promise<string> {
  let real: string;
  try {
    real = await fs.promises.realpath(abs);
  } catch {
    // Dangling: judged by where it points, so it cannot later be made to point outside.
    const target = path.resolve(path.dirname(abs), await fs.promises.readlink(abs));
    if (!inside(root, target) || inUnhashed(root, target)) throw new FolderEscape(child, target);
    return `L ${child}\0${path.relative(root, target)}\0missing\0`;
  }
  if (!inside(root, real) || inUnhashed(root, real)) throw new FolderEscape(child, real);
  const stat = await fs.promises.stat(real, { bigint: true });
  const content = stat.isFile() ? await fileDigest(real, stat, cache) : 'dir';
  return `L ${child}\0${path.relative(root, real)}\0${content}\0`;
}
