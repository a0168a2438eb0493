/**
 * Children that outlive their integration (issue 13 item 9): a double-forked `setsid` child
 * survived a reload, and servers ignoring SIGTERM survived a gateway killed by SIGKILL, as
 * orphans. Each program of an integration is now contained (containment/: a cgroup v2 with
 * `cgroup.kill` where the machine allows, else a PID namespace, plus a parent-death signal):
 * after a reload, a shutdown and a SIGKILL of the gateway, nothing it started is left.
 * The hostile server (test/fixtures/hostile, behaviours/forks.ts) ignores SIGTERM here.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { containment, sweepEmptyCgroups } from '../../gateway/src/containment/detect.ts';
import { spawnContained } from '../../gateway/src/containment/spawn.ts';
import { runChild } from '../../gateway/src/runners/child.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { startGatewayProcess } from '../helpers/gateway-process.ts';
import { hostileIntegrations, useHostileGateway } from '../helpers/hostile.ts';
import {
  eventually,
  grantTask,
  integrationOf,
  messagesOf,
  post,
  toolCall,
} from '../helpers/mcp-gateway.ts';

/**
 * Every process of one hostile copy carries its own HOSTILE_MARK in its environment (children
 * inherit it): found by it in /proc, whatever PID namespace reported its pids.
 */
const hostile = () => ({ settings: { HOSTILE_IGNORE_SIGTERM: '1', HOSTILE_MARK: randomUUID() } });

function marked(mark: string): number[] {
  const needle = `\0HOSTILE_MARK=${mark}\0`;
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (`\0${fs.readFileSync(`/proc/${entry}/environ`, 'latin1')}`.includes(needle))
        pids.push(Number(entry));
    } catch {} // exited meanwhile
  }
  return pids.filter(alive);
}

/** Generous: a stop takes ≤ 2 s + 2 s + the 2 s grace for leftovers, on a busy shared machine. */
const GONE_WITHIN_MS = 30_000;

/** Alive unless kill(pid, 0) says ESRCH; a zombie (exited, not yet reaped by init) counts as gone. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const marks = new Set<string>();
afterEach(() => {
  // A failing run must not leave 300 s sleepers behind on the shared machine.
  for (const mark of marks) {
    for (const pid of marked(mark)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  }
  marks.clear();
});

/**
 * Calls `double_fork`; the pids it answers are the server's view (in a PID namespace, not ours).
 * Its copy's processes, the server and the grandchild at least, are then running.
 */
async function doubleFork(
  url: string,
  mark: string,
): Promise<{ server: number; grandchild: number }> {
  marks.add(mark);
  const granted = await grantTask({ url } as TestGateway, ['hostile:*']);
  const { url: endpoint, token } = integrationOf(granted, 'hostile');
  // A gateway process answers before its servers are up (state `starting`): retry only that,
  // so one call forks once.
  let answer: { result?: unknown; error?: { data?: { code?: string } } } | undefined;
  for (const deadline = Date.now() + 30_000; ; ) {
    const res = await post(endpoint, token, toolCall(1, 'double_fork'));
    // The answer, not a notification sent before it on the same stream.
    answer = messagesOf(res.headers.get('content-type'), await res.text()).find((m) => m.id === 1);
    if (answer?.error?.data?.code !== 'integration_unavailable' || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const result = answer?.result as { content: Array<{ text: string }> } | undefined;
  if (!result) throw new Error(`double_fork failed: ${JSON.stringify(answer)}`);
  const pids = JSON.parse(result.content[0]!.text) as { server: number; grandchild: number };
  expect(marked(mark).length).toBeGreaterThanOrEqual(2);
  return pids;
}

/** The pids, and every process of the copy marked `mark`, exit within the generous wait. */
async function gone(mark: string, ...pids: number[]): Promise<void> {
  await eventually(() => {
    for (const pid of pids) expect(alive(pid), `pid ${pid} is still running`).toBe(false);
    expect(marked(mark)).toEqual([]);
  }, GONE_WITHIN_MS);
}

/** In cgroup mode, the gateway's cgroup directory (from its log) is removed once it is gone. */
async function noCgroupLeft(logs: Array<Record<string, unknown>>): Promise<void> {
  const line = logs.find((l) => String(l.msg).startsWith('integration processes contained by'));
  if (typeof line?.cgroup !== 'string') return;
  const dir = line.cgroup;
  await eventually(() => expect(fs.existsSync(dir), dir).toBe(false), GONE_WITHIN_MS);
}

describe('a reload of an integration', () => {
  const options = {
    ...hostile(),
    // A background process that double-forks too: a setsid sleeper beside its own sleep.
    manifest: `capabilities: [processes]
processes:
  - name: forker
    command: sh
    args: ["-c", "setsid sh -c 'sleep 300 </dev/null >/dev/null 2>&1 &'; exec sleep 300"]
    requires: [HOSTILE_MARK]
`,
    policy: '    grants: [processes]\n',
  };
  const gw = useHostileGateway(options);

  it('ends the server that ignores SIGTERM, its background process and what both double-forked', async () => {
    const mark = options.settings.HOSTILE_MARK;
    const { server, grandchild } = await doubleFork(gw().url, mark);
    // The server, its grandchild, the process's sleep and its setsid sleeper at least.
    const before = await eventually(() => {
      const pids = marked(mark);
      expect(pids).toEqual(expect.arrayContaining([server, grandchild]));
      expect(pids.length).toBeGreaterThanOrEqual(4);
      return pids;
    });
    const reloaded = await gw().registry.reload('hostile');
    expect(reloaded?.state).toBe('ready');
    await eventually(() => {
      for (const pid of before) expect(alive(pid), `pid ${pid}`).toBe(false);
    }, GONE_WITHIN_MS);
  });
});

describe('the gateway as a process', () => {
  const roots: string[] = [];
  afterAll(() => {
    for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
  });
  /** A fresh copy of the hostile integration, with its own mark; the gateway's env for it. */
  const copy = () => {
    const options = hostile();
    const { dirs, policy, root } = hostileIntegrations(options);
    roots.push(root);
    return {
      mark: options.settings.HOSTILE_MARK,
      env: { INTEGRATION_DIRS: dirs, SWITCHBOARD_POLICY: policy },
    };
  };

  it('says its containment, and shut down (SIGTERM) leaves no process of the integration behind', async () => {
    const { mark, env } = copy();
    const gw = await startGatewayProcess(env);
    try {
      const { server, grandchild } = await doubleFork(gw.url, mark);
      gw.child.kill('SIGTERM');
      await gw.exited;
      await gone(mark, server, grandchild);
      // One line at start said which containment is in effect (on this machine: cgroup).
      const said = gw.logs.filter((l) =>
        String(l.msg).startsWith('integration processes contained by'),
      );
      expect(said).toHaveLength(1);
      expect(['cgroup', 'pid-namespace', 'process-group']).toContain(said[0]!.containment);
      await noCgroupLeft(gw.logs);
    } finally {
      await gw.cleanup();
    }
  });

  for (const mode of ['auto', 'pid-namespace'] as const) {
    it(`killed by SIGKILL leaves no process of the integration behind (containment ${mode})`, async () => {
      const { mark, env } = copy();
      const gw = await startGatewayProcess({ ...env, SWITCHBOARD_CONTAINMENT: mode });
      try {
        await doubleFork(gw.url, mark);
        gw.child.kill('SIGKILL');
        await gw.exited;
        await gone(mark);
        await noCgroupLeft(gw.logs);
      } finally {
        await gw.cleanup();
      }
    });
  }

  it('with only a process group, a SIGKILL of the gateway still ends the server (pdeathsig)', async () => {
    const { mark, env } = copy();
    const gw = await startGatewayProcess({ ...env, SWITCHBOARD_CONTAINMENT: 'process-group' });
    try {
      const { server } = await doubleFork(gw.url, mark);
      gw.child.kill('SIGKILL');
      await gw.exited;
      await eventually(() => expect(alive(server)).toBe(false), GONE_WITHIN_MS);
      // Its setsid grandchild is beyond a process group's reach (ended by afterEach, by hand):
      // it is all that is left of the copy. The server's own esbuild (tsx's transform service,
      // its child) ends when the server's end closes its stdin, a moment later: waited for.
      const left = () =>
        marked(mark)
          .map((pid) => {
            try {
              return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
            } catch {
              return 'gone';
            }
          })
          .filter((comm) => comm !== 'gone');
      await eventually(() => expect(left()).toEqual(['sleep']), GONE_WITHIN_MS);
    } finally {
      await gw.cleanup();
    }
  });
});

describe('an agent run (process driver)', () => {
  it('leaves nothing behind once the agent exits, not even a setsid grandchild', async () => {
    const mark = randomUUID();
    marks.add(mark);
    const result = await runChild({
      command: 'sh',
      args: ['-c', "setsid sh -c 'sleep 300 </dev/null >/dev/null 2>&1 &'; echo forked"],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOSTILE_MARK: mark },
      timeoutMs: 60_000,
      onLine: () => {},
      graceMs: 500,
    });
    expect(result).toMatchObject({ reason: 'exited', exitCode: 0, stdoutTail: 'forked' });
    await gone(mark);
  });
});

describe('spawnContained', () => {
  it('gives the program exactly the environment it is given (the wrappers add nothing)', async () => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ONLY_THIS: 'yes' };
    const child = spawnContained({ label: 'env-check', command: 'env', args: [], env });
    child.stdin.end();
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    await new Promise((resolve) => child.once('close', resolve));
    const seen = Object.fromEntries(
      out
        .split('\n')
        .filter(Boolean)
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(seen).toEqual(env);
  });
});

describe('cgroups of gateways that died with their keeper', () => {
  it('are removed at the next start when empty; one still holding a process is left whole', async () => {
    const c = containment();
    // This machine (and CI, on it) has a writable cgroup v2 with cgroup.kill.
    expect(c.mode, `containment notes: ${c.notes.join('; ')}`).toBe('cgroup');
    const base = path.dirname(c.cgroupDir!);
    // A pid that is no process now: one that has exited.
    const gone = spawnSync('true').pid!;
    const empty = path.join(base, `switchboard-${gone}-0e0e0e0e`);
    const populated = path.join(base, `switchboard-${gone}-0f0f0f0f`);
    fs.mkdirSync(path.join(empty, 'leaf'), { recursive: true });
    fs.mkdirSync(path.join(populated, 'leaf'), { recursive: true });
    const sleeper = spawn('sleep', ['300'], { stdio: 'ignore' });
    try {
      fs.writeFileSync(path.join(populated, 'leaf', 'cgroup.procs'), String(sleeper.pid));
      expect(sweepEmptyCgroups(base, c.cgroupDir!)).toBeGreaterThanOrEqual(1);
      expect(fs.existsSync(empty)).toBe(false);
      expect(fs.existsSync(path.join(populated, 'leaf'))).toBe(true);
      expect(sleeper.exitCode).toBeNull(); // nothing was killed
      expect(fs.existsSync(c.cgroupDir!)).toBe(true); // nor our own taken
    } finally {
      sleeper.kill('SIGKILL');
      await new Promise((resolve) => sleeper.once('close', resolve));
      // rmdir succeeds once the killed sleeper has left the cgroup.
      await eventually(() => {
        if (fs.existsSync(path.join(populated, 'leaf'))) fs.rmdirSync(path.join(populated, 'leaf'));
        fs.rmdirSync(populated);
      }, 5_000);
    }
  });
});
