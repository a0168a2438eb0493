/**
 * Issue 19: "a replica SIGKILLed mid-task → the task recovered by another within one lease". A
 * task of the `once` profile runs an agent (test/fixtures/replicas/once-slow-agent.mjs) that
 * hangs on its first run; the replica running it (the agent's parent) is SIGKILLed; once its
 * lease (3 s here) expires, another replica takes the task back and runs it again, and the
 * second run completes it. Exactly once: one task:done, two task:started, one requeue for
 * lease_expired. The time from the kill to done is printed and bounded by one lease plus slack
 * (the recovery sweep, a claim and a node start on a loaded 2-core machine).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_DIR, REPO_ROOT } from '../helpers/gateway.ts';
import { alive, waitFor } from '../helpers/processes.ts';
import { type Cluster, startCluster } from './cluster.ts';

const LEASE_MS = 3_000;
const SLACK_MS = 7_000;
const AGENT = path.join(REPO_ROOT, 'test/fixtures/replicas/once-slow-agent.mjs');

function writePolicy(dir: string): string {
  const file = path.join(dir, 'policy.yaml');
  fs.writeFileSync(
    file,
    `apiVersion: switchboard/policy/v1
integrations: {}
tokens: { defaultTtl: 15m, maxTtl: 2h }
profiles:
  once:
    runner: { driver: process, command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(AGENT)}, "{prompt}"] }
    tools: []
    retry: { attempts: 2, backoff: [1s] }
`,
  );
  return file;
}

describe('a replica SIGKILLed mid-task', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-replicas-kill-'));
  const orphans: number[] = [];
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({
      INTEGRATION_DIRS: EMPTY_DIR,
      SWITCHBOARD_POLICY: writePolicy(tmp),
      SWITCHBOARD_TASK_LEASE_MS: String(LEASE_MS),
    });
  });
  afterAll(async () => {
    // The killed replica's agent has its own process group and outlives the SIGKILL.
    for (const pid of orphans) if (alive(pid)) process.kill(-pid, 'SIGKILL');
    await cluster?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it(`another replica completes the task exactly once within one lease (${LEASE_MS} ms) + slack`, async () => {
    const marker = path.join(tmp, 'first-run.json');
    const created = await cluster.api('POST', '/tasks', {
      prompt: JSON.stringify({ marker }),
      profile: 'once',
    });
    expect(created.status).toBe(201);
    const { task } = (await created.json()) as { task: { id: string } };
    await waitFor(() => fs.existsSync(marker), 30_000, 50);
    const first = JSON.parse(fs.readFileSync(marker, 'utf8')) as { pid: number; ppid: number };
    orphans.push(first.pid);
    const victim = cluster.replicas.findIndex((r) => r.child.pid === first.ppid);
    expect(
      victim,
      `the agent's parent ${first.ppid} is one of the replicas`,
    ).toBeGreaterThanOrEqual(0);

    const killedAt = Date.now();
    cluster.replicas[victim]!.child.kill('SIGKILL');
    await cluster.replicas[victim]!.exited;
    let status = '';
    while (Date.now() - killedAt < LEASE_MS + SLACK_MS * 2) {
      const res = await cluster.api('GET', `/tasks/${task.id}`);
      // The balancer skips the dead replica (connect refused), as haproxy or nginx would.
      expect(res.status).toBe(200);
      status = ((await res.json()) as { task: { status: string } }).task.status;
      if (['complete', 'failed', 'cancelled'].includes(status)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const recoveredMs = Date.now() - killedAt;
    console.log(
      `replica ${victim} SIGKILLed mid-task; task ${status} ${recoveredMs} ms after the kill (lease ${LEASE_MS} ms)`,
    );
    expect(status).toBe('complete');
    expect(recoveredMs).toBeLessThan(LEASE_MS + SLACK_MS);

    const events = await cluster.sql<{ type: string; data: Record<string, unknown> }[]>`
      select e.type, e.data from task_events e
       where e.task_id = ${task.id} and e.type <> 'task:token' order by e.seq`;
    const types = events.map((e) => e.type);
    expect(types.filter((t) => t === 'task:started')).toHaveLength(2);
    expect(types.filter((t) => t === 'task:done')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'task:requeued').map((e) => e.data)).toEqual([
      expect.objectContaining({ reason: 'lease_expired' }),
    ]);
    const [row] = await cluster.sql<{ result: string; attempts: number }[]>`
      select result, attempts from tasks where id = ${task.id}`;
    expect(row?.attempts).toBe(2);
    // Run by a surviving replica.
    const by = Number(/recovered by gateway pid (\d+)/.exec(row?.result ?? '')?.[1]);
    const survivors = cluster.replicas.filter((_, i) => i !== victim).map((r) => r.child.pid);
    expect(survivors).toContain(by);
  });
});
