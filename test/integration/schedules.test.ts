import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadPolicy } from '@switchboard/policy';
import nodeSchedule from 'node-schedule';
import { afterAll, describe, expect, it } from 'vitest';
import type { TaskEvent } from '../../gateway/src/events/store.ts';
import { type Integration, IntegrationRegistry } from '../../gateway/src/integrations/registry.ts';
import { createLogger } from '../../gateway/src/log.ts';
import {
  type FireDeps,
  fireOnce,
  type Schedule,
  Scheduler,
  schedulesOf,
} from '../../gateway/src/schedules/scheduler.ts';
import { listScheduleRuns } from '../../gateway/src/schedules/store.ts';
import { useMigratedDatabase } from '../helpers/database.ts';
import { EMPTY_DIR } from '../helpers/gateway.ts';

// Schedule fires on a real database (issue 6): a policy schedule's fire creates its session,
// message and task once per fire time; a manifest schedule's fire queues one delivery job; the
// Scheduler arms node-schedule jobs from the registry and fires them.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-schedules-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function capture(level = 'debug') {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger(level, {
    write: (msg: string) => {
      lines.push(JSON.parse(msg) as Record<string, unknown>);
    },
  });
  return { log, lines };
}

function writePolicy(cron: string): string {
  const file = path.join(tmp, `policy-${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(
    file,
    fs
      .readFileSync(path.join(import.meta.dirname, '../fixtures/schedules/policy.yaml'), 'utf8')
      .replace('"* * * * * *"', JSON.stringify(cron)),
  );
  return file;
}

const policyFixture = () => {
  const loaded = loadPolicy(path.join(import.meta.dirname, '../fixtures/schedules/policy.yaml'));
  if (!loaded.ok) throw new Error('fixture policy invalid');
  return loaded.policy;
};

describe('schedule fires', () => {
  const db = useMigratedDatabase();
  const published: TaskEvent[][] = [];
  let wakes = 0;
  const deps = (owner = 'gw-a'): FireDeps => ({
    sql: db().sql,
    log: createLogger('silent'),
    publish: async (events) => {
      published.push([...events]);
    },
    owner,
    wakeDeliveries: () => {
      wakes++;
    },
  });
  const policySchedule = () => {
    const s = schedulesOf([], policyFixture()).find((x) => x.id === 'policy/every-second');
    if (!s) throw new Error('no policy/every-second');
    return s;
  };

  it('a policy schedule creates its session and task once per fire time', async () => {
    const s = policySchedule();
    expect(s).toMatchObject({ kind: 'policy', profile: 'held', scope: ['switchboard:*'] });
    const at = new Date('2026-01-05T06:00:00.400Z');
    const first = await fireOnce(deps('gw-a'), s, at);
    const again = await fireOnce(deps('gw-b'), s, new Date('2026-01-05T06:00:00.900Z'));
    expect(first.outcome).toBe('fired');
    expect(again).toEqual({ outcome: 'taken' });
    const taskId = (first as { taskId: string }).taskId;

    const [task] = await db().sql<
      {
        idempotencyKey: string;
        profile: string;
        prompt: string;
        status: string;
        timeoutMs: number;
        key: string;
        sessionProfile: string;
        message: string;
      }[]
    >`select t.idempotency_key as "idempotencyKey", t.profile, t.prompt, t.status,
             t.timeout_ms as "timeoutMs", s.key, s.profile as "sessionProfile",
             m.content as message
        from tasks t join sessions s on s.id = t.session_id
        join messages m on m.id = t.message_id
       where t.id = ${taskId}`;
    expect(task).toEqual({
      idempotencyKey: 'schedule:policy/every-second:2026-01-05T06:00:00Z',
      profile: 'held',
      prompt: 'Tick.',
      status: 'pending',
      timeoutMs: 300_000,
      key: 'ops:every-second',
      sessionProfile: 'held',
      message: 'Tick.',
    });
    // This fire time's runs: the other tests fire other times of the same schedule.
    const runs = (await listScheduleRuns(db().sql, 'policy/every-second')).filter(
      (r) => r.fireTime.getTime() === Date.parse('2026-01-05T06:00:00Z'),
    );
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      fireTime: new Date('2026-01-05T06:00:00Z'),
      claimedBy: 'gw-a',
      taskId,
      deliveryId: null,
    });
    const created = published.flat().filter((e) => e.taskId === taskId);
    expect(created.map((e) => e.type)).toEqual(['task:created']);
  });

  it('different fire times are different runs, in the same session', async () => {
    const s = policySchedule();
    const a = await fireOnce(deps(), s, new Date('2026-01-06T06:00:00Z'));
    const b = await fireOnce(deps(), s, new Date('2026-01-06T06:00:01Z'));
    expect(a.outcome).toBe('fired');
    expect(b.outcome).toBe('fired');
    const rows = await db().sql<{ sessions: number; tasks: number }[]>`
      select count(distinct t.session_id)::int as sessions, count(*)::int as tasks
        from tasks t where t.idempotency_key like 'schedule:policy/every-second:2026-01-06%'`;
    expect(rows[0]).toEqual({ sessions: 1, tasks: 2 });
  });

  it('a manifest schedule queues one delivery job (kind schedule) per fire time', async () => {
    const s: Schedule = {
      kind: 'manifest',
      id: 'github/nightly-triage',
      integration: 'github',
      name: 'nightly-triage',
      cron: '0 6 * * *',
      handler: 'on_schedule',
    };
    const before = wakes;
    const first = await fireOnce(deps('gw-a'), s, new Date('2026-01-05T06:00:00.250Z'));
    const again = await fireOnce(deps('gw-b'), s, new Date('2026-01-05T06:00:00Z'));
    expect(first.outcome).toBe('queued');
    expect(again).toEqual({ outcome: 'taken' });
    expect(wakes).toBe(before + 1);
    const jobs = await db().sql<
      {
        id: string;
        kind: string;
        endpoint: string;
        deliveryId: string;
        headers: unknown;
        body: Buffer;
        status: string;
      }[]
    >`select id::text, kind, endpoint, delivery_id as "deliveryId", headers, body, status
        from webhook_deliveries where integration = 'github'`;
    expect(jobs).toHaveLength(1);
    const job = jobs[0]!;
    expect(job).toMatchObject({
      id: (first as { deliveryId: string }).deliveryId,
      kind: 'schedule',
      endpoint: 'nightly-triage',
      deliveryId: 'schedule:nightly-triage:2026-01-05T06:00:00Z',
      headers: {},
      status: 'pending',
    });
    expect(JSON.parse(Buffer.from(job.body).toString('utf8'))).toEqual({
      schedule: 'nightly-triage',
      fireTime: '2026-01-05T06:00:00Z',
    });
    const runs = await listScheduleRuns(db().sql, 'github/nightly-triage');
    expect(runs).toMatchObject([{ claimedBy: 'gw-a', deliveryId: job.id, taskId: null }]);
  });

  it('schedulesOf takes ready integrations that were granted schedules, and the policy', () => {
    const item = (name: string, state: Integration['state'], capabilities: string[]) =>
      ({
        name,
        state,
        manifest: {
          capabilities,
          schedules: [{ name: 'nightly', cron: '0 6 * * *', handler: 'on_schedule' }],
        },
      }) as unknown as Integration;
    const ids = schedulesOf(
      [
        item('ready-one', 'ready', ['schedules']),
        item('starting-one', 'starting', ['schedules']),
        item('refused-one', 'refused', ['schedules']),
      ],
      policyFixture(),
    ).map((s) => s.id);
    expect(ids).toEqual(['ready-one/nightly', 'policy/every-second']);
  });

  it('the Scheduler fires an every-second schedule, and says fires are not caught up', async () => {
    // Its "last run", made here (or 'taken': an earlier test made it) so the test runs alone.
    await fireOnce(deps(), policySchedule(), new Date('2026-01-06T06:00:01Z'));
    const { log, lines } = capture();
    const registry = new IntegrationRegistry({
      sql: db().sql,
      log: createLogger('silent'),
      config: { integrationDirs: [EMPTY_DIR], policyPath: writePolicy('*/1 * * * * *') },
      masterKey: Buffer.alloc(32, 7),
      env: {},
      gatewayUrl: () => 'http://127.0.0.1:1',
    });
    await registry.loadAll();
    const scheduler = await Scheduler.start({
      sql: db().sql,
      log,
      registry,
      publish: async () => {},
      owner: 'gw-scheduler',
      wakeDeliveries: () => {},
    });
    try {
      expect(scheduler.scheduleIds()).toEqual(['policy/every-second']);
      expect(nodeSchedule.scheduledJobs).toHaveProperty('policy/every-second');
      await expect
        .poll(
          async () =>
            (await listScheduleRuns(db().sql, 'policy/every-second')).filter(
              (r) => r.claimedBy === 'gw-scheduler',
            ).length,
          { timeout: 15_000, interval: 100 },
        )
        .toBeGreaterThanOrEqual(2);
    } finally {
      await scheduler.close();
    }
    const msgs = lines.map((l) => l.msg);
    expect(msgs).toContain(
      'schedules do not catch up: fires missed while no gateway ran are skipped',
    );
    const armed = lines.find((l) => l.msg === 'schedule armed');
    // 2026-01-06T06:00:01Z, fired above, is the newest run before this start: its "last run".
    expect(armed).toMatchObject({
      schedule: 'policy/every-second',
      cron: '*/1 * * * * *',
      lastRun: '2026-01-06T06:00:01Z',
      nextFire: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    });
    expect(lines.filter((l) => l.msg === 'schedule fired').length).toBeGreaterThanOrEqual(2);
    // Closed: no job is left to fire, in the Scheduler nor in node-schedule's own registry of
    // armed jobs (what would call it back); and, past the next two fire times, no new run.
    expect(scheduler.scheduleIds()).toEqual([]);
    expect(nodeSchedule.scheduledJobs).not.toHaveProperty('policy/every-second');
    const count = (await listScheduleRuns(db().sql, 'policy/every-second')).length;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect((await listScheduleRuns(db().sql, 'policy/every-second')).length).toBe(count);
  });
});
