import type { ChildProcess } from 'node:child_process';
import { forEachLine } from '../containment/line-log.ts';
import type { ContainedNetwork } from '../containment/netns.ts';
import { killProcessGroup } from '../containment/process-group.ts';
import { spawnContained, whenReleased } from '../containment/spawn.ts';
import type { Logger } from '../log.ts';
import { type BackoffPolicy, DEFAULT_BACKOFF, restartDelay } from './upstream/backoff.ts';
import type { FloodMeter } from './upstream/flood-meter.ts';
import { StderrTail } from './upstream/stderr-tail.ts';
import { delay } from './upstream/stdio.ts';

/**
 * A manifest `processes` entry: a long-running program of the integration (a listener, the HTTP
 * MCP server itself) that the gateway keeps alive. Supervised like a stdio server: its own
 * process group, exactly the environment it is given, every output line logged with the
 * integration and process names, restarted after an exit with the same backoff (100 ms × 1.5,
 * capped at 15 s, reset after 30 s up). Stopping is stdin closed + SIGTERM to the group → 2 s →
 * SIGKILL.
 */
export interface ProcessSpec {
  integration: string;
  name: string;
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Settings in `requires` that resolved to nothing: the process waits for them. */
  missing: string[];
  /** Runs before each spawn; a throw refuses it for good (a changed pinned folder: folder-pin.ts). */
  beforeSpawn?: () => Promise<void>;
  /** The integration's flood meter: output past its stderr budget is dropped and counted. */
  meter?: FloodMeter | undefined;
  /** `egress.isolation: network`: run in a network namespace with these relays (netns.ts). */
  network?: ContainedNetwork | undefined;
}

export type ProcessState = 'waiting' | 'running' | 'backoff' | 'stopped';

export interface ProcessStatus {
  name: string;
  state: ProcessState;
  pid: number | undefined;
  restarts: number;
  /** How it last ended, with the stderr line that says why: `exited with code 1 (stderr: …EADDRINUSE…)`. */
  lastExit: string | null;
  /** Settings the process waits for (state `waiting`). */
  missing: string[];
}

const STOP_STEP_MS = 2_000;

export class BackgroundProcess {
  private state: ProcessState;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private startedAt = 0;
  private spawned = 0;
  private consecutiveExits = 0;
  private lastExit: string | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  /** A spawn waiting for beforeSpawn; stop() bumps `epoch` so that it does not go ahead. */
  private launching = false;
  private epoch = 0;

  constructor(
    private readonly spec: ProcessSpec,
    private readonly log: Logger,
    private readonly backoff: BackoffPolicy = DEFAULT_BACKOFF,
  ) {
    this.state = spec.missing.length > 0 ? 'waiting' : 'stopped';
  }

  status(): ProcessStatus {
    return {
      name: this.spec.name,
      state: this.state,
      pid: this.child?.pid,
      restarts: Math.max(0, this.spawned - 1),
      lastExit: this.lastExit ?? null,
      missing: this.spec.missing,
    };
  }

  /** Starts the process unless it waits for settings; a no-op while it runs. */
  start(): void {
    if (this.spec.missing.length > 0) {
      this.log.warn(
        { integration: this.spec.integration, process: this.spec.name, missing: this.spec.missing },
        'process not started: required settings are not set',
      );
      return;
    }
    if (this.child || this.launching) return;
    this.launch();
  }

  async stop(): Promise<void> {
    this.epoch += 1;
    this.state = this.spec.missing.length > 0 ? 'waiting' : 'stopped';
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child) return;
    child.stdin?.end();
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      if (this.child !== child) break;
      killProcessGroup(child, signal);
      await Promise.race([this.exited, delay(STOP_STEP_MS)]);
    }
    // What it left behind (double-forked children) is cleared once it exited: bounded.
    await Promise.race([whenReleased(child), delay(2 * STOP_STEP_MS)]);
  }

  /** beforeSpawn, then spawn; a refusal leaves the process stopped with the reason as lastExit. */
  private launch(): void {
    const check = this.spec.beforeSpawn;
    if (!check) {
      this.spawn();
      return;
    }
    const epoch = this.epoch;
    this.launching = true;
    check()
      .then(
        () => {
          if (this.epoch === epoch) this.spawn();
        },
        (error: unknown) => {
          if (this.epoch !== epoch) return;
          this.state = 'stopped';
          this.lastExit = `not started: ${(error as Error).message}`;
        },
      )
      .catch((error: unknown) =>
        this.log.error(
          { integration: this.spec.integration, process: this.spec.name, err: error },
          'process could not be started',
        ),
      )
      .finally(() => {
        this.launching = false;
      });
  }

  private spawn(): void {
    const { spec, log } = this;
    const tag = { integration: spec.integration, process: spec.name };
    this.spawned += 1;
    this.startedAt = Date.now();
    this.state = 'running';
    const stderr = new StderrTail();
    // stdin is a pipe we never write and close only when stopping: a process can watch it
    // for EOF to learn that the gateway died without stopping it (SIGKILL, OOM).
    const child = spawnContained({
      label: `${spec.integration}.${spec.name}`,
      command: spec.command,
      args: spec.args,
      cwd: spec.cwd,
      env: spec.env,
      ...(spec.network && { network: spec.network }),
    });
    this.child = child;
    child.stdin?.on('error', () => {}); // EPIPE once it exited: the exit is handled below
    let done = false;
    this.exited = new Promise((resolve) => {
      const finish = (reason: string) => {
        if (done) return;
        done = true;
        resolve();
        this.onExit(child, reason);
      };
      // ENOENT and EACCES arrive as 'error' without a 'close' on some Node versions.
      child.once('error', (error) => finish(`could not start ${spec.command}: ${error.message}`));
      // 'close' comes after stderr has ended, so its last lines are in.
      child.once('close', (code, signal) =>
        finish(stderr.explain(signal ? `was killed by ${signal}` : `exited with code ${code}`)),
      );
    });
    // Both streams share the integration's stderr budget (flood-meter.ts): +1 for the newline.
    const logged = (line: string) => spec.meter?.stderr(line.length + 1) ?? true;
    if (child.stdout)
      forEachLine(child.stdout, (line) => {
        if (logged(line)) log.info({ ...tag, stdout: line }, 'process output');
      });
    if (child.stderr)
      forEachLine(child.stderr, (line) => {
        stderr.push(line);
        if (logged(line)) log.info({ ...tag, stderr: line }, 'process output');
      });
    log.info({ ...tag, pid: child.pid }, 'process started');
  }

  private onExit(child: ChildProcess, reason: string): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.lastExit = reason;
    if (this.state !== 'running') return; // stop() asked for it
    const upFor = Date.now() - this.startedAt;
    this.consecutiveExits = upFor >= this.backoff.resetAfterMs ? 1 : this.consecutiveExits + 1;
    const wait = restartDelay(this.backoff, this.consecutiveExits);
    this.state = 'backoff';
    this.log.warn(
      {
        integration: this.spec.integration,
        process: this.spec.name,
        exit: reason,
        upMs: upFor,
        exits: this.consecutiveExits,
        restartInMs: wait,
      },
      'process exited; restarting after backoff',
    );
    this.restartTimer = setTimeout(() => {
      if (this.state === 'backoff') this.launch();
    }, wait);
    this.restartTimer.unref();
  }
}
