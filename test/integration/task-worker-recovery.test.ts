import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../gateway/src/db/connect.ts';
import { migrate } from '../../gateway/src/db/migrate.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { enqueueTask, getQueueTask } from '../../gateway/src/tasks/queue.ts';
import { writeAgentPolicy } from '../fixtures/agents/policy.ts';
import { testDatabase } from '../helpers/database.ts';
import { EMPTY_DIR, spawnSwitchboard } from '../helpers/gateway.ts';
import { alive, waitFor } from '../helpers/processes.ts';

// A gateway SIGKILLed while its agent runs: the next gateway on the database takes the task
// back once the lease (2 s here) has expired. Run on both backends; with embedded PGlite only
// one process may hold the database, so the test reads it between the gateways' lives.
const log = createLogger('silent');

describe('task recovery after SIGKILL', () => {
  const orphans: number[] = [];
  afterAll(() => {
    // The first gateway's agent has its own process group and outlives a SIGKILL; its tokens
    // are revoked by the recovery, and the test ends it here.
    for (const pid of orphans) if (alive(pid)) process.kill(-pid, 'SIGKILL');
  });

  it('requeues a task with attempts left, fails one without; nothing stays running', async () => {
    const db = await testDatabase();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-recovery-'));
    const env = {
      ...db.env,
      PORT: '0',
      INTEGRATION_DIRS: EMPTY_DIR,
      SWITCHBOARD_POLICY: writeAgentPolicy(),
      SWITCHBOARD_MASTER_KEY: '5a'.repeat(32),
      SWITCHBOARD_TASK_LEASE_MS: '2000',
    };
    const open = async () => {
      const d = await openDatabase({
        databaseUrl: db.env.DATABASE_URL,
        dataDir: db.env.SWITCHBOARD_DATA_DIR,
        log,
      });
      await migrate(d.sql, log);
      return d;
    };
    // Every gateway this test starts, so a failing assertion does not leave one running.
    const gateways: ReturnType<typeof spawnSwitchboard>[] = [];
    const start = () => {
      const child = spawnSwitchboard(['start'], env);
      gateways.push(child);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      return { child, exited };
    };
    try {
      const first = await open();
      const once = path.join(tmp, 'once.json');
      const twice = path.join(tmp, 'twice.json');
      const one = await enqueueTask(first.sql, {
        profile: 'agent',
        prompt: JSON.stringify({ mode: 'sleep', out: once }),
        maxAttempts: 1,
      });
      const two = await enqueueTask(first.sql, {
        profile: 'agent',
        prompt: JSON.stringify({ mode: 'sleep', out: twice }),
        maxAttempts: 2,
      });
      await first.close();

      const gw1 = start();
      await waitFor(() => fs.existsSync(once) && fs.existsSync(twice), 30_000, 50);
      for (const f of [once, twice])
        orphans.push((JSON.parse(fs.readFileSync(f, 'utf8')) as { pid: number }).pid);
      fs.rmSync(twice);
      gw1.child.kill('SIGKILL');
      await gw1.exited;

      const gw2 = start();
      // The task with an attempt left is started again by the second gateway.
      await waitFor(() => fs.existsSync(twice), 30_000, 50);
      orphans.push((JSON.parse(fs.readFileSync(twice, 'utf8')) as { pid: number }).pid);
      gw2.child.kill('SIGTERM');
      await gw2.exited;

      const after = await open();
      try {
        expect(await getQueueTask(after.sql, one.task.id)).toMatchObject({
          status: 'failed',
          reason: 'lease_expired',
        });
        const events = await after.sql<{ type: string; data: Record<string, unknown> }[]>`
          select type, data from task_events
           where task_id = ${two.task.id} and type <> 'task:token' order by seq`;
        expect(events.map((e) => e.type)).toEqual([
          'task:created',
          'task:started',
          'task:requeued',
          'task:started',
          // SIGTERM: the second gateway stops its agent and gives the task back.
          'task:requeued',
        ]);
        expect(events[2]!.data).toMatchObject({ reason: 'lease_expired' });
        expect(events[4]!.data).toMatchObject({ reason: 'shutdown' });
        const running = await after.sql`select id from tasks where status = 'running'`;
        expect(running).toHaveLength(0);
        const live = await after.sql`
          select jti from tokens where task_id = ${one.task.id} and revoked_at is null`;
        expect(live).toHaveLength(0);
      } finally {
        await after.close();
      }
      // The second gateway's agent was stopped with its process group at shutdown.
      await waitFor(() => !alive(orphans.at(-1)!), 10_000);
    } finally {
      for (const child of gateways) if (child.exitCode === null) child.kill('SIGKILL');
      await db.cleanup();
    }
  });
});
