import type { ChildProcess } from 'node:child_process';
import { signalTree } from './spawn.ts';

/**
 * Signal a child spawned with `detached: true` and everything it started: its process group,
 * and for a child from spawnContained its cgroup too (spawn.ts), so a server's own
 * children do not outlive it. Falls back to the child alone if the group is already gone.
 */
export function killProcessGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  signalTree(child, signal);
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
