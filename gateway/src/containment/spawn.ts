import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { type Containment, type ContainmentMode, containment, removeCgroupTree } from './detect.ts';
import {
  type ContainedNetwork,
  enterNetns,
  type IsolationAvailable,
  relayArgv,
  relayEnv,
  requireNetworkIsolation,
} from './netns.ts';

/**
 * The one owner of "start a program of an integration (or an agent) so that everything it starts
 * ends with it": stdio servers, background processes and agent runs all spawn here. The program
 * gets its own process group (as before) and, as far as this machine allows (detect.ts), its own
 * cgroup or PID namespace and a parent-death signal. Its environment is exactly `env`: the
 * wrappers (setpriv, sh, unshare) add nothing to it.
 *
 * When the program exits, for whatever reason (stop, reload, crash), whatever it left behind in
 * its cgroup gets SIGTERM, then SIGKILL (`cgroup.kill`) after the grace period, and the cgroup is
 * removed: a double-forked child does not outlive its server.
 */
export interface ContainedSpec {
  /** Names the cgroup: the integration (and process) name. */
  label: string;
  command: string;
  args: string[];
  cwd?: string;
  /** The whole environment: nothing is inherited from the gateway. */
  env: Record<string, string>;
  /**
   * Run in a network namespace of its own where only loopback exists and the only reachable
   * addresses are these relays (127.0.0.1:<port> piped to the unix socket; netns.ts).
   * spawnContained throws `isolation_unavailable` where the machine cannot: never a run without.
   */
  network?: ContainedNetwork;
}

interface Tree {
  mode: ContainmentMode;
  cgroup?: string;
  /** Resolves once the tree is gone and its cgroup removed (or given up on). */
  released: Promise<void>;
}

const trees = new WeakMap<object, Tree>();

/** SIGTERM to leftovers after the program exited, then SIGKILL this long after (as stdio stops). */
export const LEFTOVER_GRACE_MS = 2_000;
/** rmdir of an emptied cgroup is retried while its killed processes exit: 50 × 100 ms. */
const RMDIR_TRIES = 50;
const RMDIR_EVERY_MS = 100;

let sequence = 0;

/**
 * Whether `command` would be found and is executable, as exec would search it (the child's own
 * PATH, relative to its cwd). If not, the program is spawned without wrappers so the caller sees
 * Node's own ENOENT/EACCES, as before; no process starts, so there is nothing to contain.
 */
function executable(command: string, env: Record<string, string>, cwd?: string): boolean {
  const candidates = command.includes('/')
    ? [path.resolve(cwd ?? process.cwd(), command)]
    : (env.PATH ?? '/usr/bin:/bin')
        .split(':')
        .map((dir) => path.resolve(cwd ?? process.cwd(), dir || '.', command));
  return candidates.some((file) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

/**
 * dash exports PWD at start-up; the script unsets it again unless the program was given one.
 * `$1` is the cgroup's procs file (cgroup mode), the program and its args follow. A failed move
 * (the cgroup went away) still runs the program, in its process group: never a failed spawn.
 */
const ENTER_CGROUP = '{ echo $$ > "$1"; } 2>/dev/null; shift; exec "$@"';
const KEEP_PWD = 'export PWD="$1"; shift; ';

function wrap(
  c: Containment,
  spec: ContainedSpec,
  cgroup: string | undefined,
  isolation: IsolationAvailable | undefined,
) {
  let argv = [spec.command, ...spec.args];
  // The relay program runs the program inside the namespace; unshare --net goes before it.
  const netns = isolation && spec.network ? enterNetns(isolation) : [];
  if (isolation && spec.network) argv = relayArgv(isolation, spec.network, argv, c.setpriv);
  if (cgroup) {
    const script =
      spec.env.PWD === undefined ? `unset PWD; ${ENTER_CGROUP}` : `${KEEP_PWD}${ENTER_CGROUP}`;
    const pwd = spec.env.PWD === undefined ? [] : [spec.env.PWD];
    argv = [c.sh, '-c', script, 'sh', ...pwd, path.join(cgroup, 'cgroup.procs'), ...netns, ...argv];
  } else if (c.mode === 'pid-namespace' && c.unshare) {
    const net = netns.length > 0 ? ['--net'] : [];
    argv = [c.unshare, '--pid', '--fork', '--kill-child', ...net, '--', ...argv];
  } else {
    argv = [...netns, ...argv];
  }
  if (c.setpriv) argv = [c.setpriv, '--pdeathsig', 'KILL', '--', ...argv];
  return { command: argv[0] as string, args: argv.slice(1) };
}

function makeCgroup(c: Containment, label: string): string | undefined {
  if (c.mode !== 'cgroup' || !c.cgroupDir) return undefined;
  sequence += 1;
  const dir = path.join(
    c.cgroupDir,
    `${label.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64)}-${sequence}`,
  );
  try {
    // recursive: another gateway's start may have swept our directory while it was empty
    // (detect.ts sweepEmptyCgroups); it comes back with the first program it holds.
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  } catch {
    return undefined; // the process group still holds it; the keeper still guards the rest
  }
}

/**
 * Spawns `spec` contained; stdio is three pipes, the program leads its own process group.
 * With `network`, the wrappers always run (a program that is not found ends with the relay's
 * exit 127 and a stderr line, not Node's ENOENT): nothing may start outside the namespace.
 */
export function spawnContained(spec: ContainedSpec): ChildProcessWithoutNullStreams {
  const c = containment();
  const isolation = spec.network ? requireNetworkIsolation() : undefined;
  const contain = c.mode !== 'process-group' || c.setpriv !== undefined;
  const usable =
    isolation !== undefined || (contain && executable(spec.command, spec.env, spec.cwd));
  const cgroup = usable ? makeCgroup(c, spec.label) : undefined;
  const { command, args } = usable ? wrap(c, spec, cgroup, isolation) : spec;
  let child: ChildProcessWithoutNullStreams;
  try {
    child = spawn(command, args, {
      cwd: spec.cwd,
      env: isolation ? relayEnv(spec.env) : spec.env,
      detached: true,
      shell: false,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  } catch (error) {
    if (cgroup) removeCgroupTree(cgroup);
    throw error;
  }
  const mode: ContainmentMode = cgroup
    ? 'cgroup'
    : usable && c.mode === 'pid-namespace'
      ? 'pid-namespace'
      : 'process-group';
  const tree: Tree = {
    mode,
    ...(cgroup ? { cgroup } : {}),
    released: new Promise((resolve) => {
      let done = false;
      const release = () => {
        if (done) return;
        done = true;
        clearLeftovers(child, tree).finally(resolve);
      };
      child.once('exit', release);
      child.once('error', () => {
        if (child.pid === undefined) release(); // never started: 'exit' will not come
      });
    }),
  };
  trees.set(child, tree);
  return child;
}

/** Resolves once the program's tree is gone after it exited (immediately if not contained here). */
export function whenReleased(child: object): Promise<void> {
  return trees.get(child)?.released ?? Promise.resolve();
}

function cgroupPids(cgroup: string): number[] {
  try {
    return fs
      .readFileSync(path.join(cgroup, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * Signals the program and everything it started: its process group always; in cgroup mode
 * also every process of its cgroup (those that left the group with setsid), SIGKILL through
 * `cgroup.kill`. Never throws: a tree that is already gone is fine.
 */
export function signalTree(
  child: { pid?: number | undefined; kill(signal: NodeJS.Signals): boolean },
  signal: NodeJS.Signals,
): void {
  const tree = trees.get(child);
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {}
  }
  if (!tree?.cgroup) return;
  if (signal === 'SIGKILL') {
    try {
      fs.writeFileSync(path.join(tree.cgroup, 'cgroup.kill'), '1');
    } catch {}
    return;
  }
  for (const pid of cgroupPids(tree.cgroup)) {
    try {
      process.kill(pid, signal);
    } catch {}
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * After the program exited: SIGTERM to what is left in its cgroup, SIGKILL after the grace
 * period, then the cgroup removed. In the other modes the exit of a namespace's init already
 * killed the rest; a process group's leftovers are for its owner (as before).
 */
async function clearLeftovers(child: ChildProcessWithoutNullStreams, tree: Tree): Promise<void> {
  const { cgroup } = tree;
  if (!cgroup) return;
  try {
    if (cgroupPids(cgroup).length > 0) {
      signalTree(child, 'SIGTERM');
      for (
        let waited = 0;
        waited < LEFTOVER_GRACE_MS && cgroupPids(cgroup).length > 0;
        waited += RMDIR_EVERY_MS
      )
        await sleep(RMDIR_EVERY_MS);
    }
    for (let i = 0; i < RMDIR_TRIES; i++) {
      if (removeCgroupTree(cgroup)) return;
      await sleep(RMDIR_EVERY_MS);
    }
  } catch {
    // The keeper removes it when the gateway exits.
  }
}
