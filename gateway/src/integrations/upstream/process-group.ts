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

/** Whether a process exists: signal 0 only checks (EPERM means it exists under another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
