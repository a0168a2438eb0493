import fs from 'node:fs';
import path from 'node:path';

/** Not an integration's source: dependencies, VCS, its state, builds, bytecode. */
export const IGNORED_SEGMENTS = new Set(['node_modules', '.git', '.data', 'dist', '__pycache__']);

/**
 * An editor's save is several events (write, rename, chmod) within a few ms, and `npm install`
 * many more: one reload per folder once it has been quiet for 300 ms.
 */
export const DEBOUNCE_MS = 300;

/** Where fs.watch cannot recurse (older Node on some platforms): a scan each second. */
export const POLL_MS = 1_000;

/**
 * A folder scan for polling stops at this many entries: an integration is a few dozen files;
 * a huge tree (an unignored build folder) is still watched by its first 5,000.
 */
const MAX_POLLED_ENTRIES = 5_000;

/**
 * The integration folder a changed path belongs to (its first segment under the root), or
 * undefined when the change does not matter: an ignored segment, or a folder the registry skips
 * (`_draft`, `.hidden`: integrations/discover.ts).
 */
export function folderOf(relative: string): string | undefined {
  const segments = relative.split(/[\\/]/).filter((s) => s !== '');
  const folder = segments[0];
  if (folder === undefined || folder.startsWith('_') || folder.startsWith('.')) return undefined;
  if (segments.some((s) => IGNORED_SEGMENTS.has(s))) return undefined;
  return folder;
}

function isDirectory(file: string): boolean {
  try {
    return fs.statSync(file).isDirectory();
  } catch {
    return false;
  }
}

/** Newest mtime and entry count of a folder's files, ignored segments left out. */
function signature(dir: string): string {
  let newest = 0;
  let count = 0;
  const stack = [dir];
  while (stack.length > 0 && count < MAX_POLLED_ENTRIES) {
    const current = stack.pop()!;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(current, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (IGNORED_SEGMENTS.has(entry.name)) continue;
      const file = path.join(current, entry.name);
      count++;
      try {
        newest = Math.max(newest, fs.lstatSync(file).mtimeMs);
      } catch {}
      if (entry.isDirectory()) stack.push(file);
    }
  }
  return `${count}:${newest}`;
}

export interface Watcher {
  close(): void;
  /** 'native' (fs.watch, recursive) or 'polling'. */
  mode: 'native' | 'polling';
}

/**
 * Calls `changed(root, folder)` once per quiet period for each integration folder of `root`
 * that changed. fs.watch with `recursive` where the platform has it, else polling.
 */
export function watchRoot(root: string, changed: (root: string, folder: string) => void): Watcher {
  const timers = new Map<string, NodeJS.Timeout>();
  const touch = (folder: string) => {
    clearTimeout(timers.get(folder));
    timers.set(
      folder,
      setTimeout(() => {
        timers.delete(folder);
        changed(root, folder);
      }, DEBOUNCE_MS),
    );
  };
  const clearTimers = () => {
    for (const timer of timers.values()) clearTimeout(timer);
    timers.clear();
  };
  try {
    const watcher = fs.watch(root, { recursive: true }, (_event, filename) => {
      if (filename === null) return;
      const folder = folderOf(filename.toString());
      if (folder === undefined) return;
      // A file beside the folders (a policy.yaml in the root) is no integration; a deleted
      // folder is a change (its integration goes away on reload).
      const dir = path.join(root, folder);
      if (isDirectory(dir) || !fs.existsSync(dir)) touch(folder);
    });
    return {
      mode: 'native',
      close: () => {
        watcher.close();
        clearTimers();
      },
    };
  } catch (caught) {
    if ((caught as NodeJS.ErrnoException).code !== 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM')
      throw caught;
  }
  const scan = () => {
    const now = new Map<string, string>();
    for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
      if (!entry.isDirectory() || folderOf(entry.name) === undefined) continue;
      now.set(entry.name, signature(path.join(root, entry.name)));
    }
    return now;
  };
  let last = scan();
  const interval = setInterval(() => {
    let now: Map<string, string>;
    try {
      now = scan();
    } catch {
      return; // the root is gone for a moment (a checkout): try again next time
    }
    for (const folder of new Set([...last.keys(), ...now.keys()])) {
      if (last.get(folder) !== now.get(folder)) touch(folder);
    }
    last = now;
  }, POLL_MS);
  return {
    mode: 'polling',
    close: () => {
      clearInterval(interval);
      clearTimers();
    },
  };
}

/**
 * At most one reload in flight per key plus one queued: a change during a reload asks for one
 * more after it (the reload may have read the folder before the change), and any further
 * changes meanwhile fold into that one.
 */
export class ReloadQueue {
  private readonly running = new Map<string, Promise<void>>();
  private readonly queued = new Set<string>();
  constructor(private readonly reload: (key: string) => Promise<void>) {}

  request(key: string): void {
    if (this.running.has(key)) {
      this.queued.add(key);
      return;
    }
    const run = this.reload(key)
      .catch(() => {})
      .finally(() => {
        this.running.delete(key);
        if (this.queued.delete(key)) this.request(key);
      });
    this.running.set(key, run);
  }

  /** Resolves once nothing is in flight (queued ones are dropped: the caller is stopping). */
  async drain(): Promise<void> {
    this.queued.clear();
    await Promise.all(this.running.values());
  }
}
