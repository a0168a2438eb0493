import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Client } from '@modelcontextprotocol/client';
import { forEachLine } from '../../containment/line-log.ts';
import type { ContainedNetwork } from '../../containment/netns.ts';
import { killProcessGroup } from '../../containment/process-group.ts';
import { spawnContained, whenReleased } from '../../containment/spawn.ts';
import { SwitchboardError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { type BackoffPolicy, DEFAULT_BACKOFF, restartDelay } from './backoff.ts';
import { ChildProcessTransport } from './child-transport.ts';
import { createUpstreamClient, followListChanges } from './client.ts';
import type { FloodMeter } from './flood-meter.ts';
import { paceNotifications } from './paced-reading.ts';
import { StderrTail } from './stderr-tail.ts';
import type { Upstream, UpstreamState, UpstreamStatus } from './upstream.ts';

/**
 * A supervised stdio MCP server. Started on first use, in its own process group, with exactly
 * the environment it is given (PATH, HOME and its declared settings: never the gateway's own).
 * A crash fails the calls in flight at once with an error naming the integration, then the
 * server is restarted after a backoff delay. Stopping is graded: stdin closed → 2 s → SIGTERM
 * to the group → 2 s → SIGKILL to the group, as the MCP SDK's own stdio client does.
 */
export interface StdioServerSpec {
  integration: string;
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  requestTimeoutMs: number;
  /** Runs before each spawn; a throw refuses it (a changed pinned folder: folder-pin.ts). */
  beforeSpawn?: () => Promise<void>;
  /** The integration's flood meter (shared by its instances): stderr past its budget is dropped. */
  meter?: FloodMeter;
  /** Told of each spawn after the first (a restart after an exit or a failed start): metrics. */
  onRestart?: () => void;
  /** `egress.isolation: network`: run in a network namespace with these relays (netns.ts). */
  network?: ContainedNetwork;
}

interface Running {
  child: ChildProcessWithoutNullStreams;
  client: Client;
  startedAt: number;
  exit: Promise<void>;
  /** Set when the process has exited: "exited with code 1", "killed by SIGKILL". */
  exitReason?: string;
}

/** Grace periods of the graded stop, per step. */
const STOP_STEP_MS = 2_000;

export function upstreamError(integration: string, message: string, cause?: unknown) {
  return new SwitchboardError('upstream_unavailable', `integration ${integration}: ${message}`, {
    cause,
  });
}

export class StdioUpstream implements Upstream {
  private state: UpstreamState = 'idle';
  private running: Running | undefined;
  private starting: Promise<Client> | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private consecutiveCrashes = 0;
  private restarts = 0;
  private spawned = 0;
  private lastError: string | undefined;
  /** After a crash or a failed start, the next start waits until this time (the backoff). */
  private notBefore = 0;

  constructor(
    private readonly spec: StdioServerSpec,
    private readonly log: Logger,
    private readonly backoff: BackoffPolicy = DEFAULT_BACKOFF,
  ) {}

  status(): UpstreamStatus {
    return {
      state: this.state,
      pid: this.running?.child.pid,
      restarts: this.restarts,
      lastError: this.lastError,
    };
  }

  /** The connected client, starting (or waiting for a restart of) the server if needed. */
  async client(): Promise<Client> {
    if (this.state === 'stopped') {
      throw upstreamError(this.spec.integration, 'the integration is stopped');
    }
    if (this.state === 'ready' && this.running) return this.running.client;
    this.starting ??= this.start().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  /**
   * Runs one request against the server. If the server dies meanwhile, the SDK fails the request
   * as soon as the pipe closes; the error is replaced by one that names the integration.
   */
  async request<T>(fn: (client: Client, timeoutMs: number) => Promise<T>): Promise<T> {
    // A running server's client without client()'s promise (and its microtask turn).
    const client =
      this.state === 'ready' && this.running ? this.running.client : await this.client();
    const running = this.running;
    try {
      return await fn(client, this.spec.requestTimeoutMs);
    } catch (error) {
      if (running && (running.exitReason || running.child.exitCode !== null)) {
        await Promise.race([running.exit, delay(100)]);
        throw upstreamError(
          this.spec.integration,
          `the server ${running.exitReason ?? 'exited'} during the request`,
          error,
        );
      }
      throw error;
    }
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    clearTimeout(this.restartTimer);
    await this.starting?.catch(() => {});
    const running = this.running;
    if (running) await this.terminate(running);
  }

  private async start(): Promise<Client> {
    const wait = this.notBefore - Date.now();
    if (wait > 0) await delay(wait);
    if (this.state === 'stopped') {
      throw upstreamError(this.spec.integration, 'the integration is stopped');
    }
    this.state = 'starting';
    if (this.spawned > 0) {
      this.restarts += 1;
      this.spec.onRestart?.();
    }
    this.spawned += 1;
    const started = Date.now();
    const { spec, log } = this;
    if (spec.beforeSpawn) {
      try {
        await spec.beforeSpawn();
      } catch (error) {
        const failed = this.startFailed((error as Error).message, error);
        throw error instanceof SwitchboardError ? error : failed;
      }
      if (this.state !== 'starting') {
        throw upstreamError(spec.integration, 'the integration is stopped');
      }
    }
    let child: ChildProcessWithoutNullStreams;
    try {
      child = spawnContained({
        label: spec.integration,
        command: spec.command,
        args: spec.args,
        cwd: spec.cwd,
        env: spec.env,
        ...(spec.network && { network: spec.network }),
      });
    } catch (error) {
      throw this.startFailed(`could not start ${spec.command}: ${(error as Error).message}`, error);
    }
    const spawnError = new Promise<never>((_, reject) =>
      child.once('error', (error) =>
        reject(this.startFailed(`could not start ${spec.command}: ${error.message}`, error)),
      ),
    );
    spawnError.catch(() => {});
    const stderr = this.pipeStderr(child);
    const running: Running = {
      child,
      client: createUpstreamClient(),
      startedAt: started,
      exit: new Promise((resolve) => {
        child.once('close', (code, signal) => {
          running.exitReason = signal ? `was killed by ${signal}` : `exited with code ${code}`;
          resolve();
          this.onExit(running);
        });
      }),
    };
    this.running = running;
    const transport = new ChildProcessTransport(child, { integration: spec.integration, log });
    try {
      await Promise.race([
        running.client.connect(transport, { timeout: spec.requestTimeoutMs }),
        spawnError,
      ]);
    } catch (error) {
      if (error instanceof SwitchboardError) throw error;
      await this.terminate(running);
      throw this.startFailed(
        `the server did not complete the MCP handshake${running.exitReason ? ` (it ${stderr.explain(running.exitReason)})` : ''}: ${(error as Error).message}`,
        error,
      );
    }
    if (spec.meter) paceNotifications(child.stdout, transport, spec.meter);
    await followListChanges(running.client, spec.requestTimeoutMs, (error) =>
      log.warn({ integration: spec.integration, err: error }, 'upstream list changes not followed'),
    );
    if (this.state !== 'starting') {
      // stop() ran during the handshake.
      await this.terminate(running);
      throw upstreamError(spec.integration, 'the integration is stopped');
    }
    this.state = 'ready';
    this.lastError = undefined;
    log.info(
      { integration: spec.integration, pid: child.pid, ms: Date.now() - started },
      'upstream started',
    );
    return running.client;
  }

  private startFailed(message: string, cause: unknown): SwitchboardError {
    this.consecutiveCrashes += 1;
    this.notBefore = Date.now() + restartDelay(this.backoff, this.consecutiveCrashes);
    this.state = 'failed';
    this.lastError = message;
    this.log.warn({ integration: this.spec.integration, err: cause }, message);
    return upstreamError(this.spec.integration, message, cause);
  }

  private onExit(running: Running): void {
    if (this.running !== running) return;
    this.running = undefined;
    if (this.state === 'stopped' || this.state === 'starting') return;
    const upFor = Date.now() - running.startedAt;
    this.consecutiveCrashes = upFor >= this.backoff.resetAfterMs ? 1 : this.consecutiveCrashes + 1;
    const wait = restartDelay(this.backoff, this.consecutiveCrashes);
    this.state = 'backoff';
    this.notBefore = Date.now() + wait;
    this.lastError = `the server ${running.exitReason}`;
    this.log.warn(
      {
        integration: this.spec.integration,
        pid: running.child.pid,
        exit: running.exitReason,
        upMs: upFor,
        crashes: this.consecutiveCrashes,
        restartInMs: wait,
      },
      'upstream exited; restarting after backoff',
    );
    // Restart eagerly (the server was in use); a call arriving sooner waits for the same start.
    this.restartTimer = setTimeout(() => {
      if (this.state === 'backoff') this.client().catch(() => {});
    }, wait);
    this.restartTimer.unref();
  }

  /** stdin closed → 2 s → SIGTERM → 2 s → SIGKILL, the signals to the whole process group. */
  private async terminate(running: Running): Promise<void> {
    const { child } = running;
    const exited = () => running.exitReason !== undefined;
    await running.client.close().catch(() => {});
    child.stdin.end();
    // Once it exited, what it left behind (double-forked children) is cleared too: bounded.
    const released = () => Promise.race([whenReleased(child), delay(2 * STOP_STEP_MS)]);
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      if (exited()) return released();
      await Promise.race([running.exit, delay(STOP_STEP_MS)]);
      if (exited()) return released();
      this.log.warn(
        { integration: this.spec.integration, pid: child.pid, signal },
        'stopping upstream',
      );
      killProcessGroup(child, signal);
    }
    await Promise.race([running.exit, delay(STOP_STEP_MS)]);
    await released();
  }

  /**
   * Each stderr line becomes a log line tagged with the integration, within the integration's
   * stderr budget (flood-meter.ts: the rest is dropped and counted); the last ones are kept.
   */
  private pipeStderr(child: ChildProcessWithoutNullStreams): StderrTail {
    const tail = new StderrTail();
    const meter = this.spec.meter;
    forEachLine(child.stderr, (line) => {
      tail.push(line);
      // +1: the newline. Characters, not bytes: the budget is a bound, not an account.
      if (meter && !meter.stderr(line.length + 1)) return;
      this.log.info(
        { integration: this.spec.integration, pid: child.pid, stderr: line },
        'upstream stderr',
      );
    });
    return tail;
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
