import { forEachLine } from '../containment/line-log.ts';
import { killProcessGroup } from '../containment/process-group.ts';
import { spawnContained } from '../containment/spawn.ts';
import { type OutputLine, type RunReason, type RunResult, Tail } from './runner.ts';

/**
 * Runs one program for a driver (the agent itself, or the `docker run` that hosts it) and
 * reports how it ended. The program gets its own process group (`detached`), so stopping it
 * reaches everything it started: SIGTERM to the group, then SIGKILL to whatever is left after
 * the grace period (2 s, as for stdio servers: REFERENCES §H). The group is also cleared when
 * the program exits on its own, so an agent's leftovers never outlive its task.
 */

export const KILL_GRACE_MS = 2_000;

export interface ChildSpec {
  command: string;
  args: string[];
  cwd?: string;
  /** The whole environment: nothing is inherited from the gateway. */
  env: Record<string, string>;
  /** Written to stdin, which is then closed; stdin is empty otherwise. */
  input?: string;
  timeoutMs: number;
  signal?: AbortSignal;
  onLine: (line: OutputLine) => void;
  /** Longest stdout line passed whole (LOG_LINE_MAX by default): see RunRequest.maxLineChars. */
  maxLineChars?: number;
  /** Called first when stopping (e.g. `docker kill`); the group signals follow regardless. */
  onStop?: () => Promise<void> | void;
  graceMs?: number;
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function runChild(spec: ChildSpec): Promise<RunResult> {
  const tail = new Tail();
  const graceMs = spec.graceMs ?? KILL_GRACE_MS;
  return new Promise((resolve) => {
    if (spec.signal?.aborted) {
      resolve({ reason: 'cancelled', exitCode: null, signal: null, stdoutTail: '' });
      return;
    }
    // Contained like an integration's server (containment/spawn.ts): its own process group and,
    // where the machine allows, its own cgroup and a parent-death signal.
    const child = spawnContained({
      label: 'agent',
      command: spec.command,
      args: spec.args,
      ...(spec.cwd ? { cwd: spec.cwd } : {}),
      env: spec.env,
    });
    let stopping: RunReason | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let settled = false;

    // SIGTERM now, SIGKILL once the grace period is over if any of the group is still there.
    const clearGroup = () => {
      if (killTimer !== undefined || child.pid === undefined) return;
      const pid = child.pid;
      killProcessGroup(child, 'SIGTERM');
      killTimer = setTimeout(() => {
        if (groupAlive(pid)) killProcessGroup(child, 'SIGKILL');
      }, graceMs);
      killTimer.unref();
    };
    const stop = (reason: RunReason) => {
      if (stopping !== undefined || settled) return;
      stopping = reason;
      Promise.resolve()
        .then(spec.onStop)
        .catch(() => {}) // the group signals below still stop our side
        .finally(clearGroup);
    };
    const timer = setTimeout(() => stop('timeout'), spec.timeoutMs);
    const onAbort = () => stop('cancelled');
    spec.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (result: Omit<RunResult, 'stdoutTail'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      spec.signal?.removeEventListener('abort', onAbort);
      resolve({ ...result, stdoutTail: tail.toString() });
    };

    child.once('error', (error: NodeJS.ErrnoException) => {
      // ENOENT / EACCES arrive as 'error', without 'close' on some Node versions.
      if (child.pid !== undefined) return; // a later error (e.g. a kill failing): 'close' follows
      const why = error.code === 'ENOENT' ? 'not found on PATH' : error.message;
      finish({
        reason: 'spawn_failed',
        exitCode: null,
        signal: null,
        error: `could not start ${spec.command}: ${why}${error.code ? ` (${error.code})` : ''}`,
      });
    });
    child.stdin.on('error', () => {}); // EPIPE when the program never reads: not our concern
    child.stdin.end(spec.input ?? '');
    forEachLine(
      child.stdout,
      (line) => {
        tail.push(line);
        spec.onLine({ stream: 'stdout', line });
      },
      spec.maxLineChars,
    );
    forEachLine(child.stderr, (line) => spec.onLine({ stream: 'stderr', line }));
    // 'exit' comes first; the pipes close only once every holder of them (children too) is gone.
    child.once('exit', () => clearGroup());
    child.once('close', (code, signal) => {
      finish({ reason: stopping ?? 'exited', exitCode: code, signal });
    });
  });
}
