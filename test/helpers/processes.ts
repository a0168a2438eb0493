import fs from 'node:fs';
import net from 'node:net';

/** Whether a process exists (a zombie still counts). */
export { isProcessAlive as alive } from '../../gateway/src/containment/process-group.ts';

/**
 * Whether a process still runs: a zombie (exited, not yet reaped by whoever adopted it) does not.
 * For "is everything the gateway started gone" checks right after the gateway exits, when its
 * orphaned grandchildren may wait a moment for init to reap them.
 */
export function isRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Polls `check` every `intervalMs` until it holds; throws after `ms`. */
export async function waitFor(check: () => boolean, ms = 10_000, intervalMs = 20): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** What test/fixtures/processes/reporter.mjs appends, one JSON line per start. */
export interface Report {
  pid: number;
  childPid?: number;
  env: Record<string, string>;
}

/**
 * The complete lines only: the reporter's append creates the file before it writes, so a read
 * in between sees an empty file, and one mid-write a line without its newline (CI saw the first).
 */
export function readReports(file: string): Report[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Report);
}

/** Every live process below `pid`, from /proc (stdio servers run in process groups of their own). */
export function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {}
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, ppid] of parent) {
      if (ppid !== p) continue;
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

/**
 * SIGKILLs each of `pids` that still exists. One that exited since it was listed (a gateway
 * finishing its own shutdown while a test's cleanup runs) is skipped: its ESRCH failed a test
 * whose assertions had all passed (CI, logs.test.ts, Node 24).
 */
export function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}

/** A loopback port that was free a moment ago (for a server the test starts by port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
