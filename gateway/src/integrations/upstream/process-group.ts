import type { ChildProcess } from 'node:child_process';

/**
 * Signal a child spawned with `detached: true` and everything it started (its process group),
 * so a server's own children do not outlive it. Falls back to the child alone if the group is
 * already gone.
 */
export function killProcessGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}
