import type { Client } from '@modelcontextprotocol/client';
import { SwitchboardError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { FloodMeter } from './flood-meter.ts';
import type { Upstream, UpstreamStatus } from './upstream.ts';

export type InstanceMode = 'shared' | 'session' | 'task';

/** Who a request is for. Both are absent for the gateway's own calls (tool listing, handlers). */
export interface CallContext {
  sessionId?: string | undefined;
  taskId?: string | undefined;
}

export interface PoolOptions {
  integration: string;
  mode: InstanceMode;
  /**
   * Builds one upstream (not yet started: upstreams connect on first request) for an instance
   * key (`gateway`, `session:<id>`, `task:<id>`): a task's own instance is told its task
   * (the egress proxy's log names it, launch.ts).
   */
  create: (key: string) => Upstream;
  /** A session or task instance unused this long is closed. */
  idleMs?: number;
  /** Session or task instances open at once, besides the gateway's own. */
  maxInstances?: number;
  /** What the integration's instances send unasked, together (flood-meter.ts). */
  meter?: FloodMeter;
}

/** Which instance served a request: `owned` when it serves only this request's session or task. */
export interface InstanceUsed {
  key: string;
  owned: boolean;
}

export interface InstanceStatus extends UpstreamStatus {
  /** `gateway`, `session:<id>` or `task:<id>`. */
  key: string;
  inFlight: number;
}

export interface PoolStatus {
  mode: InstanceMode;
  instances: InstanceStatus[];
}

/** 5 min: long enough to keep a conversational session's server warm between turns. */
export const DEFAULT_IDLE_MS = 5 * 60_000;
/** Each stdio instance is a process (≈ 50 MB for a Node server): bound them per integration. */
export const DEFAULT_MAX_INSTANCES = 32;

interface Entry {
  upstream: Upstream;
  inFlight: number;
  lastUsed: number;
}

const GATEWAY_KEY = 'gateway';

/**
 * The upstream connections of one integration, by its manifest's `instances`: `shared` sends
 * every request to one server; `session` and `task` give each session (or task) a server of its
 * own, started on its first request and closed when released (its task ended:
 * task-instances.ts) or idle. Under `session`, a task that belongs to no session (an external
 * task) gets an instance of its own task: falling back to the shared one would let it read what
 * another task stored there. Requests that belong to no session or task (the gateway listing
 * tools, calling webhook handlers) use one instance of their own that lives as long as the pool.
 */
export class UpstreamPool {
  private readonly entries = new Map<string, Entry>();
  private readonly idleMs: number;
  private readonly maxInstances: number;
  private sweeper: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly options: PoolOptions,
    private readonly log: Logger,
  ) {
    this.idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    this.maxInstances = options.maxInstances ?? DEFAULT_MAX_INSTANCES;
    if (this.idleMs < 1 || this.maxInstances < 1) {
      throw new RangeError('idleMs and maxInstances must be at least 1');
    }
  }

  get mode(): InstanceMode {
    return this.options.mode;
  }

  get meter(): FloodMeter | undefined {
    return this.options.meter;
  }

  /** The task of a `task:<id>` instance key; undefined for the others. */
  static taskOfKey(key: string): string | undefined {
    return key.startsWith('task:') ? key.slice('task:'.length) : undefined;
  }

  /** The instance key a context maps to under this pool's mode. */
  keyFor(context: CallContext = {}): string {
    const { mode } = this.options;
    if (mode === 'shared') return GATEWAY_KEY;
    if (mode === 'session' && context.sessionId) return `session:${context.sessionId}`;
    if (context.taskId) return `task:${context.taskId}`;
    return GATEWAY_KEY;
  }

  /**
   * `fn` is told which instance it runs on: only an `owned` one may pass the upstream's
   * unaddressed messages (logs) to this caller, since a shared one carries other tasks' too.
   */
  async request<T>(
    fn: (client: Client, timeoutMs: number, instance: InstanceUsed) => Promise<T>,
    context?: CallContext,
  ): Promise<T> {
    const key = this.keyFor(context);
    // An instance already there is taken without acquire's promise (and its microtask turn),
    // which nearly every call finds.
    const found = this.stopped ? undefined : this.entries.get(key);
    if (found) found.inFlight += 1;
    const entry = found ?? (await this.acquire(key));
    const instance: InstanceUsed = { key, owned: key !== GATEWAY_KEY };
    try {
      return await entry.upstream.request((client, timeoutMs) => fn(client, timeoutMs, instance));
    } finally {
      entry.inFlight -= 1;
      entry.lastUsed = Date.now();
    }
  }

  /**
   * Closes the instance of a session or task that ended (a no-op under `shared`, or when it has
   * none). `{ taskId }` alone closes the task's own instance under `task` and `session` alike.
   */
  async release(context: CallContext): Promise<void> {
    const key = this.keyFor(context);
    if (key === GATEWAY_KEY) return;
    await this.close(key);
  }

  status(): PoolStatus {
    return {
      mode: this.options.mode,
      instances: [...this.entries].map(([key, e]) => ({
        key,
        inFlight: e.inFlight,
        ...e.upstream.status(),
      })),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    await Promise.all([...this.entries.keys()].map((key) => this.close(key)));
    this.options.meter?.stop();
  }

  private async acquire(key: string): Promise<Entry> {
    // inFlight is counted here, synchronously with the lookup, so no eviction or idle sweep can
    // pick an instance between its choice and the request's start. The count is checked again
    // after every eviction (closing awaits the process's stop, during which other requests may
    // have added instances), so the bound holds however many requests arrive at once.
    for (;;) {
      if (this.stopped) {
        throw new SwitchboardError(
          'upstream_unavailable',
          `integration ${this.options.integration}: the integration is stopped`,
        );
      }
      const found = this.entries.get(key);
      if (found) {
        found.inFlight += 1;
        return found;
      }
      if (key === GATEWAY_KEY || this.pooledCount() < this.maxInstances) break;
      const idlest = this.idlest();
      if (!idlest) {
        throw new SwitchboardError(
          'upstream_busy',
          `integration ${this.options.integration}: all ${this.maxInstances} ${this.options.mode} instances are busy; try again later`,
        );
      }
      await this.close(idlest);
    }
    const entry: Entry = { upstream: this.options.create(key), inFlight: 1, lastUsed: Date.now() };
    this.entries.set(key, entry);
    if (key !== GATEWAY_KEY) this.startSweeper();
    return entry;
  }

  private pooledCount(): number {
    return [...this.entries.keys()].filter((k) => k !== GATEWAY_KEY).length;
  }

  /** The least recently used session/task instance with nothing in flight. */
  private idlest(): string | undefined {
    let best: [string, number] | undefined;
    for (const [key, e] of this.entries) {
      if (key === GATEWAY_KEY || e.inFlight > 0) continue;
      if (!best || e.lastUsed < best[1]) best = [key, e.lastUsed];
    }
    return best?.[0];
  }

  private async close(key: string): Promise<void> {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.log.info({ integration: this.options.integration, instance: key }, 'closing instance');
    await entry.upstream.stop();
  }

  private startSweeper(): void {
    if (this.sweeper) return;
    // Checking every quarter of the idle time closes an idle instance within 1.25 × idleMs.
    this.sweeper = setInterval(() => this.sweep(), Math.max(10, Math.floor(this.idleMs / 4)));
    this.sweeper.unref();
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, e] of this.entries) {
      if (key !== GATEWAY_KEY && e.inFlight === 0 && now - e.lastUsed >= this.idleMs) {
        this.close(key).catch((error) =>
          this.log.warn(
            { integration: this.options.integration, instance: key, err: error },
            'closing idle instance failed',
          ),
        );
      }
    }
    if (this.pooledCount() === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}
