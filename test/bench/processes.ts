/**
 * The processes a benchmark starts (gateways, upstream servers, mcp-proxy, the webhook floor):
 * each detached in a process group of its own with its output in `<logDir>/<name>.log`, all
 * stopped at the end, last started first.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { descendants } from '../helpers/processes.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** `node --import <this>` runs a TypeScript file, as tsx does, without tsx's own process. */
export const TSX_LOADER = path.join(REPO, 'node_modules/tsx/dist/loader.mjs');

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  exited: Promise<void>;
  logFile: string;
}

/** Every Processes of this bench process, for the emergency stop below. */
const live = new Set<Processes>();
let hooked = false;

/**
 * A bench stopped from outside (Ctrl-C, a kill, `bench | head` closing its stdout) never
 * reaches its `finally`: without this, its gateways and upstreams ran on, orphaned. Node
 * ignores SIGPIPE and reports EPIPE on stdout instead, so that is heard too.
 */
function stopChildrenOnExit(): void {
  if (hooked) return;
  hooked = true;
  const emergency = (code: number) => {
    for (const processes of live) processes.killAllNow();
    process.exit(code);
  };
  process.once('SIGINT', () => emergency(130));
  process.once('SIGTERM', () => emergency(143));
  process.once('SIGHUP', () => emergency(129));
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') emergency(141);
  });
}

export class Processes {
  readonly started: Proc[] = [];

  constructor(private readonly logDir: string) {
    live.add(this);
    stopChildrenOnExit();
  }

  /** SIGKILL to every started process's group and descendants, at once (an emergency stop). */
  killAllNow(): void {
    for (const proc of this.started) {
      for (const pid of [proc.pid, ...descendants(proc.pid)]) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {}
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
    }
  }

  /** `node <args>` from the repository root; stdout piped instead of logged with `pipeStdout`. */
  launch(
    name: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    options: { pipeStdout?: boolean } = {},
  ): Proc {
    const logFile = path.join(this.logDir, `${name}.log`);
    const log = fs.openSync(logFile, 'a');
    const child = spawn(process.execPath, args, {
      cwd: REPO,
      env,
      stdio: ['ignore', options.pipeStdout ? 'pipe' : log, log],
      detached: true,
    });
    fs.closeSync(log);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (child.pid === undefined) throw new Error(`${name} did not start`);
    const proc = { name, child, pid: child.pid, exited, logFile };
    this.started.push(proc);
    return proc;
  }

  /**
   * SIGTERM each; after 15 s, SIGKILL to its group and to its children's (a gateway's stdio
   * servers run in groups of their own); then whatever it left in its group.
   */
  async stopAll(): Promise<void> {
    live.delete(this);
    for (const proc of this.started.slice().reverse()) {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) continue;
      proc.child.kill('SIGTERM');
      const timer = setTimeout(() => {
        for (const pid of [proc.pid, ...descendants(proc.pid)]) {
          try {
            process.kill(-pid, 'SIGKILL');
          } catch {}
        }
      }, 15_000);
      await proc.exited;
      clearTimeout(timer);
      // Whatever it left in its process group (mcp-proxy's stdio child).
      try {
        process.kill(-proc.pid, 'SIGKILL');
      } catch {}
    }
  }
}

/** The last 2,000 characters of what a process wrote: for the error when it exits early. */
export function logTail(proc: Proc): string {
  return fs.readFileSync(proc.logFile, 'utf8').slice(-2000);
}

/** Polls `fn` every `pollMs` until it returns a value; throws (with its last error) after `ms`. */
export async function until<T>(
  what: string,
  ms: number,
  fn: () => Promise<T | undefined>,
  pollMs = 100,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  throw new Error(`${what} not ready in ${ms} ms${last ? `: ${(last as Error).message}` : ''}`);
}
