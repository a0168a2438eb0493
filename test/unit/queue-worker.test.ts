import { describe, expect, it } from 'vitest';
import { InProcessBus } from '../../gateway/src/db/bus.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { type LeasedQueue, QueueWorker, type Slot } from '../../gateway/src/queue/worker.ts';

// The worker loop shared by the delivery, task and outbox workers, on a queue held in memory
// (the three real queues run it against PGlite/PostgreSQL in test/integration/*worker*). What
// is checked here is the loop's own part: per-key limits, the fail path with its backoff,
// renewal, recovery wakes, bus wakes and the drain on close.

interface Job {
  id: string;
  key: string;
  attempts: number;
  fail?: 'retry' | 'final';
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(5);
  }
}

/** A queue of jobs in an array; handlers take `holdMs`; what happened is recorded. */
function memoryQueue(
  jobs: Job[],
  options: Partial<LeasedQueue<Job>> & { holdMs?: number; limits?: Record<string, number> } = {},
) {
  const limits = options.limits ?? { '': 2 };
  const seen = {
    running: new Map<string, number>(),
    most: new Map<string, number>(),
    done: [] as string[],
    failed: [] as { id: string; retryInMs: number | null }[],
    claims: 0,
  };
  const queue: LeasedQueue<Job> = {
    name: 'memory',
    log: createLogger('silent'),
    idField: 'jobId',
    id: (job) => job.id,
    pollMs: 60_000,
    recoverMs: 60_000,
    slots: () => Object.entries(limits).map(([key, limit]): Slot => ({ key, limit })),
    claim: async (slot, limit) => {
      seen.claims += 1;
      const taken = jobs.filter((j) => j.key === slot.key).slice(0, limit);
      for (const job of taken) {
        jobs.splice(jobs.indexOf(job), 1);
        job.attempts += 1;
      }
      return taken;
    },
    handle: async (job) => {
      const now = (seen.running.get(job.key) ?? 0) + 1;
      seen.running.set(job.key, now);
      seen.most.set(job.key, Math.max(now, seen.most.get(job.key) ?? 0));
      await sleep(options.holdMs ?? 20);
      seen.running.set(job.key, (seen.running.get(job.key) ?? 1) - 1);
      if (job.fail) throw Object.assign(new Error('no'), { retryable: job.fail === 'retry' });
      seen.done.push(job.id);
    },
    fail: async (job, _error, retryInMs) => {
      seen.failed.push({ id: job.id, retryInMs });
    },
    retry: {
      schedule: () => [1_000, 10_000],
      attempt: (job) => job.attempts,
      classify: (error) => ({ retryable: (error as { retryable: boolean }).retryable }),
    },
    recover: async () => 0,
    ...options,
  };
  return { queue, seen };
}

const jobsOf = (key: string, n: number, extra: Partial<Job> = {}): Job[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${key}${i}`, key, attempts: 0, ...extra }));

describe('QueueWorker', () => {
  it('keeps each key under its own limit and runs every job', async () => {
    const jobs = [...jobsOf('a', 7), ...jobsOf('b', 5)];
    const { queue, seen } = memoryQueue(jobs, { limits: { a: 3, b: 1 } });
    const worker = await QueueWorker.start(queue);
    await until(() => seen.done.length === 12);
    expect(seen.most.get('a')).toBe(3);
    expect(seen.most.get('b')).toBe(1);
    expect(worker.running).toBe(0);
    await worker.close();
  });

  it('hands a throw to fail with the jittered schedule entry of its attempt, or null when final', async () => {
    const jobs = [
      { id: 'r1', key: '', attempts: 0, fail: 'retry' as const },
      { id: 'r2', key: '', attempts: 1, fail: 'retry' as const },
      { id: 'f', key: '', attempts: 0, fail: 'final' as const },
    ];
    const { queue, seen } = memoryQueue(jobs, { limits: { '': 3 } });
    const worker = await QueueWorker.start(queue);
    await until(() => seen.failed.length === 3);
    const wait = Object.fromEntries(seen.failed.map((f) => [f.id, f.retryInMs]));
    expect(wait.r1).toBeGreaterThanOrEqual(800);
    expect(wait.r1).toBeLessThanOrEqual(1_200);
    expect(wait.r2).toBeGreaterThanOrEqual(8_000);
    expect(wait.r2).toBeLessThanOrEqual(12_000);
    expect(wait.f).toBeNull();
    await worker.close();
  });

  it('renews the lease of a running job, and stops when it ends', async () => {
    const renewed: string[] = [];
    const { queue, seen } = memoryQueue(jobsOf('', 1), {
      holdMs: 120,
      renew: { everyMs: 25, lease: async (job) => void renewed.push(job.id) },
    });
    const worker = await QueueWorker.start(queue);
    await until(() => seen.done.length === 1);
    const count = renewed.length;
    expect(count).toBeGreaterThanOrEqual(3);
    await sleep(80);
    expect(renewed).toHaveLength(count);
    await worker.close();
  });

  it('claims again after a recovery that took jobs back, and on an accepted bus notice', async () => {
    const jobs: Job[] = [];
    const bus = new InProcessBus();
    let recovered = 0;
    const { queue, seen } = memoryQueue(jobs, {
      recoverMs: 30,
      recover: async () => {
        if (recovered > 0) return 0;
        recovered = jobs.push(...jobsOf('', 2));
        return recovered;
      },
      wakeOn: { bus, channel: 'c', accept: (payload) => payload === 'new' },
    });
    const worker = await QueueWorker.start(queue);
    await until(() => seen.done.length === 2);
    const claims = seen.claims;
    await bus.publish('c', 'other');
    await sleep(20);
    expect(seen.claims).toBe(claims);
    jobs.push(...jobsOf('n', 1).map((j) => ({ ...j, key: '' })));
    await bus.publish('c', 'new');
    await until(() => seen.done.length === 3);
    await worker.close();
  });

  it('on close tells each running job, and waits for them at most drainMs', async () => {
    const told: string[] = [];
    const { queue, seen } = memoryQueue(jobsOf('', 2), {
      holdMs: 1_000,
      stopJob: (job) => void told.push(job.id),
      drainMs: 50,
    });
    const worker = await QueueWorker.start(queue);
    await until(() => worker.running === 2);
    const started = Date.now();
    await worker.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(told.sort()).toEqual(['0', '1']);
    expect(seen.done).toEqual([]);
  });

  it('counts a job claimed again while its first run still runs here (an expired lease) twice', async () => {
    const first: Job = { id: 'x', key: '', attempts: 0 };
    const jobs = [first];
    const { queue, seen } = memoryQueue(jobs, { holdMs: 150, limits: { '': 4 } });
    const worker = await QueueWorker.start(queue);
    await until(() => worker.running === 1);
    jobs.push({ ...first, attempts: 1 });
    worker.wake();
    await until(() => worker.running === 2);
    expect(worker.get('x')?.attempts).toBe(2);
    await until(() => seen.done.length === 2);
    expect(worker.running).toBe(0);
    expect(worker.get('x')).toBeUndefined();
    await worker.close();
  });
});
