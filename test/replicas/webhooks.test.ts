/**
 * Issue 19: webhook ingest spread over three replicas behind a round-robin balancer. 36 signed
 * github deliveries, each asking for two tasks (two triggers with run: true), go through the
 * balancer one connection each; every replica must have taken some; then each delivery is one
 * row, done, with exactly its two tasks (counted in the database by delivery row and by session
 * key). Each delivery sent again (GitHub's redelivery: same id, same body), through the balancer
 * and so to another replica, is acknowledged 200 {"duplicate": true} and creates nothing.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchFresh } from '../helpers/balancer.ts';
import { githubHeaders } from '../helpers/webhooks.ts';
import { type Cluster, startCluster, WEBHOOK_ENV } from './cluster.ts';

const SECRET = 'test-github-secret';
const DELIVERIES = 36;
const TASKS_PER_DELIVERY = 2;

describe('webhook ingest over three replicas', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(WEBHOOK_ENV);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('spreads deliveries over every replica; each makes its tasks exactly once; duplicates make none', async () => {
    const run = randomUUID().slice(0, 8);
    const deliveries = Array.from({ length: DELIVERIES }, (_, n) => {
      const triggers = Array.from({ length: TASKS_PER_DELIVERY }, (_, t) => ({
        session: { key: `hooks:spread-${run}-${n}-${t}`, dispatch: { type: 'none' } },
        message: `delivery ${n} task ${t}`,
        run: true,
      }));
      const body = JSON.stringify({ triggers });
      const id = `spread-${run}-${n}`;
      return { id, body, headers: githubHeaders(SECRET, body, id) };
    });
    const send = (d: (typeof deliveries)[number]) =>
      fetchFresh(`${cluster.url}/hooks/hooks/github`, {
        method: 'POST',
        headers: d.headers,
        body: d.body,
      }).then(async (res) => ({ status: res.status, body: await res.text() }));

    cluster.balancer.resetCounts();
    const first = await Promise.all(deliveries.map(send));
    expect(first.map((r) => r.status)).toEqual(deliveries.map(() => 202));
    const spread = [...cluster.balancer.connections];
    console.log(`${DELIVERIES} deliveries, connections per replica: ${JSON.stringify(spread)}`);
    for (const n of spread) expect(n).toBeGreaterThanOrEqual(5);

    // The delivery workers of all three process them: wait until every row is done.
    const ids = deliveries.map((d) => d.id);
    await expect
      .poll(
        async () => {
          const [row] = await cluster.sql<{ done: number }[]>`
            select count(*)::int as done from webhook_deliveries
             where delivery_id = any(${ids}) and status = 'done'`;
          return row?.done;
        },
        { timeout: 60_000, interval: 200 },
      )
      .toBe(DELIVERIES);

    // Sent again, each lands on a replica by the balancer's turn (most of them another one).
    cluster.balancer.resetCounts();
    const again = await Promise.all(deliveries.map(send));
    for (const r of again) {
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ duplicate: true });
    }
    // Let any wrongly queued work run before counting (there should be none).
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    const rows = await cluster.sql<{ deliveryId: string; rows: number; tasks: number }[]>`
      select d.delivery_id as "deliveryId", count(distinct d.id)::int as rows,
             count(t.id)::int as tasks
        from webhook_deliveries d left join tasks t on t.delivery_id = d.id
       where d.delivery_id = any(${ids})
       group by d.delivery_id order by d.delivery_id`;
    expect(rows).toHaveLength(DELIVERIES);
    for (const r of rows) expect(r).toMatchObject({ rows: 1, tasks: TASKS_PER_DELIVERY });
    const sessions = await cluster.sql<{ key: string; tasks: number }[]>`
      select s.key, count(t.id)::int as tasks
        from sessions s left join tasks t on t.session_id = s.id
       where s.key like ${`hooks:spread-${run}-%`} group by s.key`;
    expect(sessions).toHaveLength(DELIVERIES * TASKS_PER_DELIVERY);
    expect(sessions.every((s) => s.tasks === 1)).toBe(true);
  });
});
