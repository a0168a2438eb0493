/**
 * Issue 19: schedules fire once with three replicas. The schedules fixture policy fires
 * policy/every-second every second into a held profile (its tasks stay pending); all three
 * replicas' schedulers race on each fire time for ~5 s, then every fire time must have exactly
 * one run and one task (test/integration/schedules-replicas.test.ts does the same with two).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_DIR, REPO_ROOT } from '../helpers/gateway.ts';
import { type Cluster, sleep, startCluster } from './cluster.ts';

const SCHEDULE = 'policy/every-second';
const SESSION = 'ops:every-second';
/** ~5 fires, each raced by three schedulers. */
const RUN_MS = 5_500;

describe('schedules with three replicas', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({
      INTEGRATION_DIRS: EMPTY_DIR,
      SWITCHBOARD_POLICY: path.join(REPO_ROOT, 'test/fixtures/schedules/policy.yaml'),
      LOG_LEVEL: 'debug',
    });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('each fire time makes one run and one task, whichever replica won it', async () => {
    await sleep(RUN_MS);
    // Stopped first (SIGTERM, a clean exit), so no fire is half-way when the rows are counted.
    for (const r of cluster.replicas) r.child.kill('SIGTERM');
    const exits = await Promise.all(cluster.replicas.map((r) => r.exited));
    expect(exits.map((e) => e.code)).toEqual([0, 0, 0]);

    const { sql } = cluster;
    const runs = await sql<{ fireTime: Date; claimedBy: string; taskId: string | null }[]>`
      select fire_time as "fireTime", claimed_by as "claimedBy", task_id::text as "taskId"
        from schedule_runs where schedule = ${SCHEDULE} order by fire_time`;
    const byReplica: Record<string, number> = {};
    for (const r of runs) byReplica[r.claimedBy] = (byReplica[r.claimedBy] ?? 0) + 1;
    const lost = cluster.replicas.map(
      (r) =>
        r.logs.filter(
          (l) => l.msg === 'schedule fire taken by another gateway' && l.schedule === SCHEDULE,
        ).length,
    );
    console.log(
      `${runs.length} fires of ${SCHEDULE}; won per replica: ${JSON.stringify(byReplica)}; lost per replica: ${JSON.stringify(lost)}`,
    );
    expect(runs.length).toBeGreaterThanOrEqual(3);
    // The race ran: fires were lost to another replica (three schedulers, one winner each;
    // the first fires may come before all three listen, so not every fire is raced).
    expect(lost.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2);
    expect(runs.every((r) => r.taskId !== null)).toBe(true);
    expect(new Set(runs.map((r) => r.taskId)).size).toBe(runs.length);
    expect(new Set(runs.map((r) => r.fireTime.getTime())).size).toBe(runs.length);
    const [tasks] = await sql<{ count: number }[]>`
      select count(*)::int as count from tasks t join sessions s on s.id = t.session_id
       where s.key = ${SESSION}`;
    expect(tasks?.count).toBe(runs.length);
    const [keys] = await sql<{ count: number; distinct: number }[]>`
      select count(*)::int as count, count(distinct idempotency_key)::int as distinct
        from tasks where idempotency_key like ${`schedule:${SCHEDULE}:%`}`;
    expect(keys).toEqual({ count: runs.length, distinct: runs.length });
  });
});
