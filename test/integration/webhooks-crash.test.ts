/**
 * Issue 6: "1,000 deliveries sent while the gateway is SIGKILLed and restarted midway: every
 * delivery that got a 2xx is processed exactly once; count by delivery id". A real
 * `switchboard start` takes 16 concurrent github-signed senders; after 300 acknowledgements its
 * whole process group (and the hooks stdio server's own group) is SIGKILLed, and a second gateway
 * is started on the same database and port. Senders retry whatever got no 2xx with the same
 * delivery id, as GitHub's redelivery would, until it is acknowledged. With embedded PGlite the
 * second gateway reopens the data dir the first was killed on: a real durability check of every
 * 202 the first one gave.
 *
 * The lost acknowledgement is made on purpose rather than hoped for from the kill's timing:
 * before the crash, LOST_ACKS deliveries go through a proxy that resets the connection as the
 * 202 comes back (committed, never acknowledged). They are resent only after the restart, to
 * the second gateway, and each must be answered 200 {"duplicate": true} and processed once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../gateway/src/db/connect.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { testDatabase } from '../helpers/database.ts';
import { ADMIN_KEY, CLI, REPO_ROOT } from '../helpers/gateway.ts';
import { alive, descendants } from '../helpers/processes.ts';
import { startAnswerDroppingProxy } from '../helpers/tcp-proxy.ts';
import { githubHeaders } from '../helpers/webhooks.ts';

const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/webhooks');
const SECRET = 'test-github-secret';
const TOTAL = 1_000;
const SENDERS = 16;
const KILL_AFTER = 300;
/** A sender that got no answer waits this long before resending (the gateway is restarting). */
const RETRY_MS = 100;
/** Deliveries whose 202 is lost on purpose before the crash, resent after it. */
const LOST_ACKS = 20;

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

const killGroup = (pid: number) => {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {}
};

describe('webhook deliveries across a gateway SIGKILL (issue 6)', () => {
  const started: ChildProcess[] = [];
  afterAll(() => {
    for (const child of started) {
      if (child.pid === undefined) continue;
      for (const pid of descendants(child.pid)) killGroup(pid);
      killGroup(child.pid);
    }
  });

  it('every acknowledged delivery is processed exactly once, by delivery id', async () => {
    const db = await testDatabase();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...db.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      INTEGRATION_DIRS: FIXTURES,
      SWITCHBOARD_POLICY: path.join(FIXTURES, 'policy.yaml'),
      SWITCHBOARD_MASTER_KEY: '5a'.repeat(32),
      SWITCHBOARD_ADMIN_KEY: ADMIN_KEY,
      LOG_LEVEL: 'warn',
    };
    const start = () => {
      // detached: its own process group, so one kill takes the gateway and what it spawned.
      const child = spawn(process.execPath, [CLI, 'start'], {
        cwd: REPO_ROOT,
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
        detached: true,
      });
      let stderr = '';
      child.stderr?.on('data', (d) => {
        stderr = (stderr + d).slice(-4000);
      });
      const exited = new Promise<string>((resolve) =>
        child.once('exit', (code, signal) => resolve(`exit ${code ?? signal}: ${stderr}`)),
      );
      started.push(child);
      return { child, exited };
    };

    const run = randomUUID().slice(0, 8);
    const deliveries = Array.from({ length: TOTAL }, (_, n) => {
      const body = JSON.stringify({
        triggers: [
          {
            session: { key: `hooks:crash-${n}`, dispatch: { type: 'none' } },
            message: `crash ${n}`,
            run: true,
          },
        ],
      });
      const id = `crash-${run}-${n}`;
      return { id, body, headers: githubHeaders(SECRET, body, id) };
    });
    const acked = new Map<string, number>();
    const counts = {
      lostAcks: 0,
      ackedBeforeKill: 0,
      connectionErrors: 0,
      retried: 0,
      duplicates: 0,
      refused: {} as Record<string, number>,
    };
    let onAck = () => {};

    let gw = start();
    /** POSTs a delivery until it gets an answer that is not a restart's (no socket, 404, 503). */
    const post = async (d: (typeof deliveries)[number]) => {
      for (let attempt = 0; ; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, RETRY_MS));
        try {
          const res = await fetch(`${url}/hooks/hooks/github`, {
            method: 'POST',
            headers: d.headers,
            body: d.body,
            signal: AbortSignal.timeout(30_000),
          });
          const text = await res.text();
          if (res.status !== 404 && res.status !== 503) return { status: res.status, text };
        } catch {}
      }
    };
    // The lost acknowledgements: the first gateway commits each (its 202 is what the proxy
    // sees), the sender sees a reset connection. Nothing else is sent meanwhile.
    const lossy = await startAnswerDroppingProxy({ host: '127.0.0.1', port });
    const lost = deliveries.slice(0, LOST_ACKS);
    try {
      await expect
        .poll(
          () =>
            fetch(`${url}/readyz`).then(
              (r) => r.status,
              () => 0,
            ),
          {
            timeout: 60_000,
            interval: 200,
          },
        )
        .toBe(200);
      for (const d of lost) {
        const sent = await fetch(`http://127.0.0.1:${lossy.port}/hooks/hooks/github`, {
          method: 'POST',
          headers: d.headers,
          body: d.body,
        }).then(
          () => 'answered',
          (error: Error) => error.message,
        );
        expect(sent).toBe('fetch failed');
      }
      expect(lossy.statusLines).toEqual(lost.map(() => 'HTTP/1.1 202 Accepted'));
      counts.lostAcks = lossy.statusLines.length;
    } finally {
      await lossy.close();
    }
    let next = LOST_ACKS;
    const sender = async () => {
      for (let n = next++; n < TOTAL; n = next++) {
        const d = deliveries[n]!;
        for (let attempt = 0; ; attempt++) {
          if (attempt > 0) {
            counts.retried++;
            await new Promise((r) => setTimeout(r, RETRY_MS));
          }
          let status: number;
          let text: string;
          try {
            const res = await fetch(`${url}/hooks/hooks/github`, {
              method: 'POST',
              headers: d.headers,
              body: d.body,
              signal: AbortSignal.timeout(30_000),
            });
            status = res.status;
            text = await res.text();
          } catch {
            counts.connectionErrors++;
            continue;
          }
          if (status === 202 || status === 200) {
            if (status === 200) counts.duplicates++;
            acked.set(d.id, status);
            onAck();
            break;
          }
          // A gateway that listens but has not loaded its integrations yet answers 404: resend.
          const code = `${status} ${/"code":"([^"]+)"/.exec(text)?.[1] ?? ''}`;
          counts.refused[code] = (counts.refused[code] ?? 0) + 1;
        }
      }
    };

    const killed = new Promise<void>((resolve) => {
      onAck = () => {
        if (acked.size < KILL_AFTER) return;
        onAck = () => {};
        counts.ackedBeforeKill = acked.size;
        const pid = gw.child.pid!;
        // The stdio server has a process group of its own: find it before its parent dies.
        const below = descendants(pid);
        killGroup(pid);
        for (const p of below) killGroup(p);
        resolve();
      };
    });
    const senders = Promise.all(Array.from({ length: SENDERS }, sender));
    await killed;
    await gw.exited;
    gw = start();
    await senders;
    // The resend after the crash: every lost acknowledgement's delivery was committed by the
    // first gateway, so the second one answers it as a duplicate.
    for (const d of lost) {
      const again = await post(d);
      expect({ id: d.id, status: again.status, body: JSON.parse(again.text) }).toEqual({
        id: d.id,
        status: 200,
        body: expect.objectContaining({ duplicate: true }),
      });
      acked.set(d.id, again.status);
    }
    expect(acked.size).toBe(TOTAL);

    // Wait for the worker: every delivery asks for one task, so TOTAL tasks means every row is
    // done (a task and its row's `done` commit together). Then stop it and count in the database.
    const admin = { authorization: `Bearer ${ADMIN_KEY}` };
    const countTasks = async () => {
      let n = 0;
      let cursor: string | null = null;
      do {
        const query: string = cursor ? `&cursor=${cursor}` : '';
        const res = await fetch(`${url}/api/v1/tasks?limit=500${query}`, { headers: admin });
        const page = (await res.json()) as { tasks: unknown[]; next: string | null };
        n += page.tasks.length;
        cursor = page.next;
      } while (cursor);
      return n;
    };
    const deadline = Date.now() + 150_000;
    let tasks = await countTasks();
    while (tasks < TOTAL && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      tasks = await countTasks();
    }
    gw.child.kill('SIGTERM');
    await gw.exited;
    for (const child of started) if (child.pid && alive(child.pid)) killGroup(child.pid);

    const log = createLogger('silent');
    const check = await openDatabase({
      databaseUrl: db.env.DATABASE_URL,
      dataDir: db.env.SWITCHBOARD_DATA_DIR,
      log,
    });
    try {
      type Row = { deliveryId: string; status: string; tasks: number; messages: number };
      const rows = await check.sql<Row[]>`
        select d.delivery_id as "deliveryId", d.status, coalesce(t.n, 0) as tasks,
               coalesce(m.n, 0) as messages
          from webhook_deliveries d
          left join (select delivery_id, count(*)::int as n from tasks group by 1) t
            on t.delivery_id = d.id
          left join (select source ->> 'delivery' as id, count(*)::int as n from messages
                      group by 1) m
            on m.id = d.id::text`;
      const byId = new Map<string, Row[]>();
      for (const row of rows) byId.set(row.deliveryId, [...(byId.get(row.deliveryId) ?? []), row]);
      const wrong = [...acked.keys()].filter((id) => {
        const mine = byId.get(id) ?? [];
        return !(
          mine.length === 1 &&
          mine[0]!.status === 'done' &&
          mine[0]!.tasks === 1 &&
          mine[0]!.messages === 1
        );
      });
      const [orphans] = await check.sql<{ n: number }[]>`
        select count(*)::int as n from tasks t
         where t.delivery_id is null
            or not exists (select 1 from webhook_deliveries d where d.id = t.delivery_id)`;
      const [total] = await check.sql<{ n: number }[]>`select count(*)::int as n from tasks`;
      console.log(
        `webhooks crash: ${JSON.stringify({ ...counts, acked: acked.size, rows: rows.length, tasks: total!.n, tasksSeenViaApi: tasks })}`,
      );
      expect(wrong.map((id) => ({ id, rows: byId.get(id) ?? [] })).slice(0, 5)).toEqual([]);
      expect(rows).toHaveLength(acked.size);
      expect(orphans!.n).toBe(0);
      expect(total!.n).toBe(acked.size);
      expect(counts.ackedBeforeKill).toBeGreaterThanOrEqual(KILL_AFTER);
    } finally {
      await check.close();
      await db.cleanup();
    }
  }, 240_000);
});
