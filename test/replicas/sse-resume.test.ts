/**
 * Issue 19: "a task's SSE stream resumed on another replica with Last-Event-ID misses nothing".
 * A running task (claimed by the test; its profile is held) gets session messages posted with
 * notify: true through the balancer, each one a task:message event. Its event stream is read
 * from replica 0, cut, more events are written meanwhile, and the stream is resumed on replica 1
 * with Last-Event-ID while more arrive (written through other replicas: only the bus and the
 * poll bring them to replica 1's follower); the task is cancelled through replica 2 and the
 * stream ends. Every event in the database is seen exactly once, in seq order.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimTasks } from '../../gateway/src/tasks/queue.ts';
import { ADMIN_KEY, REPO_ROOT } from '../helpers/gateway.ts';
import { collect, openSse, type SseEvent } from '../helpers/sse.ts';
import { type Cluster, startCluster } from './cluster.ts';

const BEFORE_CUT = 15;
const WHILE_CUT = 15;
const AFTER_RESUME = 10;

describe('a task event stream resumed on another replica', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({
      INTEGRATION_DIRS: path.join(REPO_ROOT, 'test/fixtures/integrations'),
      SWITCHBOARD_POLICY: path.join(REPO_ROOT, 'test/fixtures/tasks-api/policy.yaml'),
    });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('Last-Event-ID on replica 1 after a cut on replica 0: every event once, in order', async () => {
    const created = await cluster.api('POST', '/tasks', {
      prompt: 'p',
      profile: 'scripted',
      session: 'replicas:sse',
    });
    expect(created.status).toBe(201);
    const { task } = (await created.json()) as { task: { id: string; sessionId: string } };
    const [claimed] = await claimTasks(cluster.sql, {
      profile: 'scripted',
      owner: 'replica-suite',
      leaseMs: 600_000,
      concurrency: 1,
    });
    expect(claimed?.id).toBe(task.id);
    let posted = 0;
    const post = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const res = await cluster.api('POST', `/sessions/${task.sessionId}/messages`, {
          content: `m${++posted}`,
          notify: true,
        });
        expect(res.status).toBe(201);
      }
    };
    await post(BEFORE_CUT);

    const auth = { authorization: `Bearer ${ADMIN_KEY}` };
    const route = `/api/v1/tasks/${task.id}/events`;
    const first = await openSse(`${cluster.direct(0)}${route}`, auth);
    expect(first.status).toBe(200);
    const got: Array<SseEvent & { from: number }> = [];
    while (got.filter((e) => e.event === 'task:message').length < BEFORE_CUT) {
      const next = await first.events.next();
      if (next.done) throw new Error('the stream ended early');
      got.push({ ...next.value, from: 0 });
    }
    await first.events.return(undefined); // the cut
    await post(WHILE_CUT);

    const resumed = await openSse(`${cluster.direct(1)}${route}`, {
      ...auth,
      'last-event-id': got.at(-1)!.id!,
    });
    expect(resumed.status).toBe(200);
    while (got.filter((e) => e.event === 'task:message').length < BEFORE_CUT + WHILE_CUT) {
      const next = await resumed.events.next();
      if (next.done) throw new Error('the resumed stream ended early');
      got.push({ ...next.value, from: 1 });
    }
    // Live now: written through the balancer (mostly other replicas), followed on replica 1.
    await post(AFTER_RESUME);
    const cancelled = await cluster.api('POST', `/tasks/${task.id}/cancel`, {}, cluster.direct(2));
    expect(cancelled.status).toBe(200);
    got.push(...(await collect(resumed.events)).map((e) => ({ ...e, from: 1 })));

    const stored = await cluster.sql<{ seq: string; type: string }[]>`
      select e.seq::text as seq, e.type from task_events e where task_id = ${task.id} order by e.seq`;
    console.log(
      `${got.length} events (${got.filter((e) => e.from === 0).length} from replica 0, ${got.filter((e) => e.from === 1).length} resumed on replica 1); ${stored.length} stored`,
    );
    expect(got.length).toBeGreaterThanOrEqual(30);
    expect(got.map((e) => e.id)).toEqual(stored.map((e) => e.seq));
    expect(got.map((e) => e.event)).toEqual(stored.map((e) => e.type));
    expect(got.at(-1)?.event).toBe('task:cancelled');
    expect(got.filter((e) => e.event === 'task:message')).toHaveLength(posted);
  });
});
