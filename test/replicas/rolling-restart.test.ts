/**
 * Issue 19: "rolling restart of all three under steady webhook load → no acknowledged delivery
 * lost, no 5xx beyond the drain window". Signed github deliveries go through the balancer at
 * ~20 a second (a new connection each), each asking for one task. Meanwhile each replica in turn
 * gets SIGTERM, drains (its listener closes at once, in-flight requests get until the drain
 * deadline, SWITCHBOARD_SHUTDOWN_TIMEOUT_MS), exits, is started again on its port, and goes back
 * into the balancer once its /readyz answers 200, as a balancer's health check would put it
 * back. Connect failures (the stopped replica's closed port) are retried on the next replica by
 * the balancer; a sender resends what got no 2xx (same delivery id, as GitHub's redelivery does).
 *
 * Then: every delivery got a 2xx; every acknowledged delivery is in the database, done, with
 * exactly one task; a 5xx (or a cut connection) only while a replica was draining (from its
 * SIGTERM to its exit), none outside; no other refusal at all.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchFresh } from '../helpers/balancer.ts';
import { githubHeaders } from '../helpers/webhooks.ts';
import { type Cluster, REPLICAS, sleep, startCluster, WEBHOOK_ENV } from './cluster.ts';

const SECRET = 'test-github-secret';
const PER_SECOND = 20;
const DRAIN_MS = 3_000;
/** Load before the first restart and after the last, and between restarts. */
const STEADY_MS = 1_500;
const RETRY_MS = 100;

interface Attempt {
  id: string;
  start: number;
  end: number;
  /** The HTTP status, or 0 when the connection failed (reset, refused everywhere). */
  status: number;
  body: string;
}

describe('a rolling restart of three replicas under webhook load', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({
      ...WEBHOOK_ENV,
      SWITCHBOARD_SHUTDOWN_TIMEOUT_MS: String(DRAIN_MS),
    });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('loses no acknowledged delivery; 5xx only inside a drain window', async () => {
    const run = randomUUID().slice(0, 8);
    const attempts: Attempt[] = [];
    const acked = new Map<string, number>();
    const sent: string[] = [];
    /** Sends one delivery until it gets a 2xx (or the test gives up after 60 s). */
    const deliver = async (n: number) => {
      const id = `rolling-${run}-${n}`;
      sent.push(id);
      const body = JSON.stringify({
        triggers: [
          {
            session: { key: `hooks:rolling-${run}-${n}`, dispatch: { type: 'none' } },
            message: `rolling ${n}`,
            run: true,
          },
        ],
      });
      const headers = githubHeaders(SECRET, body, id);
      const giveUp = Date.now() + 60_000;
      while (Date.now() < giveUp) {
        const start = Date.now();
        const answer = await fetchFresh(`${cluster.url}/hooks/hooks/github`, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(30_000),
        }).then(
          async (res) => ({ status: res.status, body: await res.text() }),
          (error: Error) => ({ status: 0, body: String(error.cause ?? error.message) }),
        );
        attempts.push({ id, start, end: Date.now(), ...answer });
        if (answer.status === 202 || answer.status === 200) {
          acked.set(id, answer.status);
          return;
        }
        await sleep(RETRY_MS);
      }
    };

    let loading = true;
    const senders: Promise<void>[] = [];
    const load = (async () => {
      for (let n = 0; loading; n++) {
        senders.push(deliver(n));
        await sleep(1_000 / PER_SECOND);
      }
    })();

    const windows: Array<{ replica: number; start: number; end: number; code: number | null }> = [];
    const restarts: number[] = [];
    for (let i = 0; i < REPLICAS; i++) {
      await sleep(STEADY_MS);
      const replica = cluster.replicas[i]!;
      const start = Date.now();
      replica.child.kill('SIGTERM');
      const { code } = await replica.exited;
      windows.push({ replica: i, start, end: Date.now(), code });
      // Out of the rotation until its health check passes again.
      cluster.balancer.drain(i);
      const began = Date.now();
      await cluster.restart(i);
      await cluster.waitReady(i);
      cluster.balancer.restore(i);
      restarts.push(Date.now() - began);
    }
    await sleep(STEADY_MS);
    loading = false;
    await load;
    await Promise.all(senders);

    const inWindow = (a: Attempt) => windows.some((w) => a.start <= w.end && a.end >= w.start);
    const failed = attempts.filter((a) => a.status !== 200 && a.status !== 202);
    const byStatus: Record<string, number> = {};
    for (const a of failed) {
      const key = `${a.status}${inWindow(a) ? ' (in a drain window)' : ' (OUTSIDE)'}`;
      byStatus[key] = (byStatus[key] ?? 0) + 1;
    }
    console.log(
      [
        `${sent.length} deliveries (${attempts.length} attempts) at ~${PER_SECOND}/s;`,
        `drain windows (ms): ${JSON.stringify(windows.map((w) => w.end - w.start))};`,
        `restart to ready (ms): ${JSON.stringify(restarts)};`,
        `refusals: ${JSON.stringify(byStatus)};`,
        `connections per replica: ${JSON.stringify(cluster.balancer.connections)}`,
      ].join(' '),
    );
    expect(windows.map((w) => w.code)).toEqual([0, 0, 0]);
    expect(sent.length).toBeGreaterThanOrEqual(100);
    // Every delivery acknowledged in the end (resent until it was).
    expect(acked.size).toBe(sent.length);
    // 5xx and cut connections only while a replica drained; nothing else refused, ever.
    const outside = failed.filter((a) => !inWindow(a));
    expect(outside.map((a) => `${a.status} ${a.body.slice(0, 200)}`)).toEqual([]);
    const notServerErrors = failed.filter((a) => a.status !== 0 && a.status < 500);
    expect(notServerErrors.map((a) => `${a.status} ${a.body.slice(0, 200)}`)).toEqual([]);

    // Every acknowledged delivery is in the database, done, with exactly its one task.
    const ids = [...acked.keys()];
    await expect
      .poll(
        async () => {
          const [row] = await cluster.sql<{ done: number }[]>`
            select count(*)::int as done from webhook_deliveries
             where delivery_id = any(${ids}) and status = 'done'`;
          return row?.done;
        },
        { timeout: 60_000, interval: 250 },
      )
      .toBe(ids.length);
    const rows = await cluster.sql<{ deliveryId: string; rows: number; tasks: number }[]>`
      select d.delivery_id as "deliveryId", count(distinct d.id)::int as rows,
             count(t.id)::int as tasks
        from webhook_deliveries d left join tasks t on t.delivery_id = d.id
       where d.delivery_id = any(${ids})
       group by d.delivery_id`;
    expect(rows).toHaveLength(ids.length);
    expect(rows.filter((r) => r.rows !== 1 || r.tasks !== 1)).toEqual([]);
    const [sessions] = await cluster.sql<{ sessions: number; tasks: number }[]>`
      select count(distinct s.id)::int as sessions, count(t.id)::int as tasks
        from sessions s left join tasks t on t.session_id = s.id
       where s.key like ${`hooks:rolling-${run}-%`}`;
    expect(sessions).toEqual({ sessions: ids.length, tasks: ids.length });
  });
});
