import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.ts';

/**
 * What this machine lets the gateway do to keep an integration's processes from outliving it
 * (issue 13 item 9: a double-forked `setsid` child survived a reload; servers ignoring SIGTERM
 * survived a SIGKILLed gateway). Found once per process, strongest first:
 *
 * - `cgroup`: a cgroup v2 directory per spawned program under one of this process
 *   (`switchboard-<pid>-<random>`), emptied with `cgroup.kill`, which reaches processes that left
 *   the process group (setsid). A keeper (`sh`, one per gateway process) holds a pipe from the
 *   gateway and kills the whole directory when the pipe closes: the gateway died, even by SIGKILL.
 * - `pid-namespace`: the program runs as the init of a PID namespace (`unshare --pid --fork
 *   --kill-child`); when it or its `unshare` dies, the kernel kills the whole namespace.
 *   Such an init ignores SIGTERM unless it handles it, so stopping may take the SIGKILL step.
 * - `process-group`: only the process group (the behaviour before containment).
 *
 * In every mode the spawned program also gets a parent-death signal (`setpriv --pdeathsig KILL`)
 * when util-linux has `setpriv`. Nothing here ever fails a spawn: what is missing is logged and
 * the next weaker mode is used. `SWITCHBOARD_CONTAINMENT` (config.ts: auto, cgroup,
 * pid-namespace, process-group) caps the mode, for tests of the weaker ones and for operators who
 * must; it is per process (the first gateway started in it decides).
 */
export const CONTAINMENT_MODES = ['cgroup', 'pid-namespace', 'process-group'] as const;
export type ContainmentMode = (typeof CONTAINMENT_MODES)[number];
export const CONTAINMENT_SETTINGS = ['auto', ...CONTAINMENT_MODES] as const;
export type ContainmentSetting = (typeof CONTAINMENT_SETTINGS)[number];

export interface Containment {
  mode: ContainmentMode;
  /** The shell that moves a program into its cgroup before exec (cgroup mode). */
  sh: string;
  /** This process's cgroup directory; each program gets one below it (cgroup mode). */
  cgroupDir?: string;
  /** util-linux `unshare` (pid-namespace mode). */
  unshare?: string;
  /** util-linux `setpriv`, when it can set a parent-death signal. */
  setpriv?: string;
  /** Why a stronger mode is not in effect, for the log. */
  notes: string[];
}

/** Where util-linux and the shell live on the distributions we know; the gateway's PATH is not trusted for this. */
export const BIN_DIRS: readonly string[] = [
  '/usr/bin',
  '/bin',
  '/usr/sbin',
  '/sbin',
  '/usr/local/bin',
];

/** The first executable `name` in `dirs` (netns.ts's probe passes other dirs in tests). */
export function findBinary(name: string, dirs: readonly string[] = BIN_DIRS): string | undefined {
  for (const dir of dirs) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {}
  }
  return undefined;
}

/** Runs a probe; 5 s bounds a probe on a machine busy with other work (it takes ~5 ms). */
function succeeds(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 5_000, env: {} });
  return result.status === 0;
}

/** This process's cgroup v2 directory: the cgroup2 mount plus the `0::` line of /proc/self/cgroup. */
function ownCgroupV2(): string | undefined {
  const own = fs
    .readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((line) => line.startsWith('0::'));
  if (!own) return undefined;
  const mount = fs
    .readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .find((fields) => fields[2] === 'cgroup2')?.[1];
  if (!mount) return undefined;
  return path.join(mount, own.slice(3).replace(/ \(deleted\)$/, ''));
}

/** `cgroup.kill` then rmdir, leaves first; false while killed processes are still exiting. */
export function removeCgroupTree(dir: string): boolean {
  try {
    fs.writeFileSync(path.join(dir, 'cgroup.kill'), '1');
  } catch {}
  try {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }))
      if (entry.isDirectory()) removeCgroupTree(path.join(dir, entry.name));
    fs.rmdirSync(dir);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/**
 * The keeper: reads its stdin until the gateway's end closes (the gateway exited, however), then
 * kills everything under the directory and removes it. Tries for 10 s (100 × 0.1 s) while the
 * killed processes exit; it is in the gateway's own cgroup, not under the one it kills.
 */
const KEEPER = `trap '' INT TERM HUP
while read -r _; do :; done
n=0
while [ $n -lt 100 ]; do
  echo 1 > "$1/cgroup.kill"
  for leaf in "$1"/*/; do [ -d "$leaf" ] && rmdir "$leaf"; done
  rmdir "$1" && exit 0
  sleep 0.1
  n=$((n + 1))
done 2>/dev/null`;

function startKeeper(sh: string, dir: string): boolean {
  try {
    const keeper = spawn(sh, ['-c', KEEPER, 'switchboard-containment-keeper', dir], {
      detached: true, // its own session: a Ctrl-C to the gateway's group is not for it
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { PATH: '/usr/bin:/bin' },
    });
    keeper.on('error', () => {});
    keeper.stdin?.on('error', () => {});
    keeper.unref();
    // The pipe stays open, unreferenced, for as long as this process lives.
    (keeper.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    return keeper.pid !== undefined;
  } catch {
    return false;
  }
}

function tryCgroup(sh: string, notes: string[]): string | undefined {
  let base: string | undefined;
  try {
    base = ownCgroupV2();
  } catch {}
  if (!base) {
    notes.push('no cgroup v2 mount');
    return undefined;
  }
  const dir = path.join(base, `switchboard-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    fs.mkdirSync(dir);
  } catch (error) {
    notes.push(`cgroup ${base} is not writable (${(error as NodeJS.ErrnoException).code})`);
    return undefined;
  }
  const fail = (why: string) => {
    notes.push(why);
    removeCgroupTree(dir);
    return undefined;
  };
  if (!fs.existsSync(path.join(dir, 'cgroup.kill'))) return fail('no cgroup.kill (Linux < 5.14)');
  // The same move a spawn makes: a shell writing itself into a child cgroup's procs.
  const probe = path.join(dir, 'probe');
  try {
    fs.mkdirSync(probe);
  } catch {
    return fail('cannot create a child cgroup');
  }
  if (!succeeds(sh, ['-c', 'echo $$ > "$1/cgroup.procs"', 'sh', probe]))
    return fail(`cannot move a process into ${probe}`);
  if (!startKeeper(sh, dir)) return fail('cannot start the keeper');
  removeCgroupTree(probe);
  sweepEmptyCgroups(base, dir);
  return dir;
}

/**
 * Removes the empty directories earlier gateways left: a keeper killed with its gateway (a
 * service manager stopping the whole unit, a test runner ending its workers) never ran, and each
 * restart left one more (8 after one day of this repository's test runs). Only a directory that
 * holds no process is removed (rmdir of a populated cgroup fails with EBUSY, and nothing here
 * writes cgroup.kill), and only when its pid is not alive here. A gateway in another PID
 * namespace whose directory is empty at that moment loses nothing: spawn.ts re-creates it.
 */
export function sweepEmptyCgroups(base: string, own: string): number {
  let removed = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(base, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const match = /^switchboard-(\d+)-[0-9a-f]+$/.exec(entry.name);
    const dir = path.join(base, entry.name);
    if (!entry.isDirectory() || !match || dir === own || isAlive(Number(match[1]))) continue;
    if (removeEmptyTree(dir)) removed += 1;
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** rmdir, leaves first, without killing anything: false once a part of it holds a process. */
function removeEmptyTree(dir: string): boolean {
  try {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }))
      if (entry.isDirectory() && !removeEmptyTree(path.join(dir, entry.name))) return false;
    fs.rmdirSync(dir);
    return true;
  } catch {
    return false;
  }
}

function detect(wanted: ContainmentSetting): Containment {
  const notes: string[] = [];
  const cap = (CONTAINMENT_MODES as readonly string[]).indexOf(wanted);
  if (cap > 0) notes.push(`SWITCHBOARD_CONTAINMENT=${wanted}`);
  const allows = (mode: ContainmentMode) => cap === -1 || CONTAINMENT_MODES.indexOf(mode) >= cap;
  if (process.platform !== 'linux') {
    return { mode: 'process-group', sh: '/bin/sh', notes: ['not Linux'] };
  }
  const sh = findBinary('sh') ?? '/bin/sh';
  const setprivBin = findBinary('setpriv');
  const setpriv =
    setprivBin && succeeds(setprivBin, ['--pdeathsig', 'KILL', '--', sh, '-c', 'exit 0'])
      ? setprivBin
      : undefined;
  if (!setpriv) notes.push('no setpriv --pdeathsig (util-linux)');
  const base = { sh, notes, ...(setpriv ? { setpriv } : {}) };
  if (allows('cgroup')) {
    const cgroupDir = tryCgroup(sh, notes);
    if (cgroupDir) return { ...base, mode: 'cgroup', cgroupDir };
  }
  if (allows('pid-namespace')) {
    const unshare = findBinary('unshare');
    if (unshare && succeeds(unshare, ['--pid', '--fork', '--kill-child', '--', sh, '-c', 'exit 0']))
      return { ...base, mode: 'pid-namespace', unshare };
    notes.push('no unshare --pid (util-linux, CAP_SYS_ADMIN)');
  }
  return { ...base, mode: 'process-group' };
}

let found: Containment | undefined;

/** The containment of this process, found on first use (`wanted` counts only then). */
export function containment(wanted: ContainmentSetting = 'auto'): Containment {
  found ??= detect(wanted);
  return found;
}

/** Logs once per gateway which containment is in effect and why not a stronger one. */
export function logContainment(log: Logger, wanted: ContainmentSetting): Containment {
  const c = containment(wanted);
  log.info(
    {
      containment: c.mode,
      pdeathsig: c.setpriv !== undefined,
      ...(c.cgroupDir ? { cgroup: c.cgroupDir } : {}),
      ...(c.notes.length > 0 ? { notes: c.notes } : {}),
    },
    `integration processes contained by ${c.mode}`,
  );
  return c;
}
