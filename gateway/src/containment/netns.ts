import { spawnSync } from 'node:child_process';
import { SwitchboardError } from '../errors.ts';
import { BIN_DIRS, findBinary } from './detect.ts';

/**
 * Network isolation of an integration's program (issue 21): a server that ignores HTTP(S)_PROXY
 * must still reach the network only through the gateway's egress proxy. On Linux the program
 * runs in a network namespace of its own (`unshare --net`) where only loopback exists; the only
 * addresses it can reach there are the relays: listeners on 127.0.0.1:<port> inside the
 * namespace that pipe each connection to a unix socket of the gateway (the proxy's, a bridge to
 * its API). A unix socket is a file, and files are reachable across network namespaces.
 *
 * The relays are a small Node program (RELAY below, run with `process.execPath -e`: no file to
 * locate in dist vs source) that brings lo up, opens the relays, then runs the real program with
 * its stdio inherited (a stdio MCP server's bytes pass untouched) and exits as it exits.
 * Isolation asked for and not available is an error (`isolation_unavailable`), never a silent
 * run without it.
 */
export type NetworkIsolation =
  | {
      available: true;
      unshare: string;
      ip: string;
      /**
       * util-linux setpriv, when this process is root: the program's capabilities are then cut
       * (DROPPED_CAPABILITIES), else root could just leave the namespace. Required as root.
       */
      setpriv?: string;
    }
  | { available: false; reason: string };

export type IsolationAvailable = Extract<NetworkIsolation, { available: true }>;

/** ContainedSpec.network: the relays of the program's namespace. */
export interface ContainedNetwork {
  relays: Array<{ port: number; socket: string }>;
}

/**
 * Taken from a program run as root (from its bounding set: neither it nor anything it runs,
 * setuid binaries included, can have them): a root program in a network namespace otherwise
 * leaves it with `nsenter --net=/proc/<gateway pid>/ns/net` (CAP_SYS_ADMIN: setns; ptrace access
 * to /proc/<pid>/ns is granted because its capabilities equal the gateway's), moves an interface
 * in (NET_ADMIN), injects into a host process (SYS_PTRACE), or goes through the kernel (SYS_MODULE,
 * SYS_RAWIO, BPF). Without them, /proc/<gateway pid>/ns/net is "Permission denied".
 */
export const DROPPED_CAPABILITIES = '-sys_admin,-net_admin,-sys_ptrace,-sys_module,-sys_rawio,-bpf';

/** A probe takes ~10 ms; 5 s bounds it on a machine busy with other work (as detect.ts). */
const PROBE_TIMEOUT_MS = 5_000;

function run(command: string, args: string[]): { ok: boolean; stderr: string } {
  const result = spawnSync(command, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: PROBE_TIMEOUT_MS,
    env: {},
    encoding: 'utf8',
  });
  const stderr = (result.stderr ?? '').trim() || result.error?.message || '';
  const why = result.signal ? `killed by ${result.signal}` : `exit ${result.status}`;
  return { ok: result.status === 0, stderr: stderr ? `${stderr} (${why})` : why };
}

/** Probes this machine, uncached: what networkIsolation() answers. `dirs`: where to look for binaries. */
export function probeNetworkIsolation(dirs: readonly string[] = BIN_DIRS): NetworkIsolation {
  if (process.platform !== 'linux')
    return { available: false, reason: `not Linux (${process.platform})` };
  const unshare = findBinary('unshare', dirs);
  if (!unshare)
    return {
      available: false,
      reason: `util-linux unshare not found (in ${dirs.join(', ')})`,
    };
  const sh = findBinary('sh', dirs) ?? '/bin/sh';
  const netns = run(unshare, ['--net', '--', sh, '-c', 'exit 0']);
  if (!netns.ok)
    return {
      available: false,
      reason:
        `\`unshare --net\` refused: ${netns.stderr}; it needs CAP_SYS_ADMIN (root) or ` +
        'unprivileged user namespaces',
    };
  const ip = findBinary('ip', dirs);
  if (!ip)
    return { available: false, reason: `\`ip\` (iproute2) not found (in ${dirs.join(', ')})` };
  const lo = run(unshare, ['--net', '--', ip, 'link', 'set', 'lo', 'up']);
  if (!lo.ok)
    return {
      available: false,
      reason: `\`ip link set lo up\` failed in a new network namespace: ${lo.stderr}`,
    };
  if (process.getuid?.() !== 0) return { available: true, unshare, ip };
  const setpriv = findBinary('setpriv', dirs);
  if (!setpriv)
    return {
      available: false,
      reason:
        `util-linux setpriv not found (in ${dirs.join(', ')}): as root, a program keeps ` +
        'CAP_SYS_ADMIN without it and can leave its network namespace (setns)',
    };
  const drop = run(setpriv, ['--bounding-set', DROPPED_CAPABILITIES, '--', sh, '-c', 'exit 0']);
  if (!drop.ok)
    return {
      available: false,
      reason: `\`setpriv --bounding-set ${DROPPED_CAPABILITIES}\` failed: ${drop.stderr}`,
    };
  return { available: true, unshare, ip, setpriv };
}

let probed: NetworkIsolation | undefined;
let probeDirs: readonly string[] = BIN_DIRS;

/** Whether this machine can isolate a program's network: probed on first use, then cached. */
export function networkIsolation(): NetworkIsolation {
  probed ??= probeNetworkIsolation(probeDirs);
  return probed;
}

/** Tests: forget the cached probe; the next networkIsolation() probes again, in `dirs`. */
export function resetNetworkIsolation(dirs: readonly string[] = BIN_DIRS): void {
  probed = undefined;
  probeDirs = dirs;
}

/** The isolation, or `isolation_unavailable` with the probe's reason: never a run without it. */
export function requireNetworkIsolation(): IsolationAvailable {
  const isolation = networkIsolation();
  if (!isolation.available)
    throw new SwitchboardError(
      'isolation_unavailable',
      `network isolation is not available: ${isolation.reason}`,
    );
  return isolation;
}

/** What enters the new network namespace (before the relay program, after the other wrappers). */
export function enterNetns(isolation: IsolationAvailable): string[] {
  return [isolation.unshare, '--net', '--'];
}

/**
 * The relay is a Node process started with the program's environment, and Node obeys some of it
 * at start: NODE_OPTIONS meant for another Node (`--experimental-strip-types` for a Node 22
 * server under a Node 20 gateway: exit 9, "not allowed in NODE_OPTIONS"), a `--require` of the
 * server's, NODE_DEBUG lines, OPENSSL_CONF. Those variables travel to the relay as JSON in one
 * variable of its environment (not argv: /proc/<pid>/cmdline is readable by every user) and the
 * relay gives them back to the program: the program's environment is exactly spec.env.
 */
const RELAY_ENV = 'SWITCHBOARD_NETNS_RELAY_ENV';
const NODE_READS = (name: string) =>
  name.startsWith('NODE_') || name === 'OPENSSL_CONF' || name === RELAY_ENV;

/** The environment to spawn the wrappers and the relay with, for a program's `env`. */
export function relayEnv(env: Record<string, string>): Record<string, string> {
  const kept: Record<string, string> = {};
  const held: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (NODE_READS(name)) held[name] = value;
    else kept[name] = value;
  }
  return { ...kept, [RELAY_ENV]: JSON.stringify(held) };
}

/** Connections open at once per relay: a server opening more waits in the listen backlog. */
export const RELAY_MAX_CONNECTIONS = 256;
/** Connecting to a relay's unix socket (a local file): 10 s is only reached by a stuck gateway. */
export const RELAY_CONNECT_TIMEOUT_MS = 10_000;
/** sun_path holds 108 bytes with its NUL: a longer path cannot be connected to. */
const MAX_SOCKET_PATH_BYTES = 107;

/**
 * The relay program (CommonJS, run by `node -e`). argv[1]: its config as JSON; the program and
 * its args follow. Writes to stderr only with fs.writeSync(2): process.stdout/stdin are never
 * touched, since Node could make the pipes it shares with the program non-blocking. Exit codes:
 * 125 lo or a relay failed (the program never started), 127/126 the program could not be
 * started, else the program's (128 + n for a signal where it cannot be raised again: as PID 1 of
 * a PID namespace the kernel ignores a signal the relay sends itself).
 * Signals: SIGTERM/SIGINT/SIGHUP are passed on; the program is in the relay's process group too,
 * so a signal to the whole group (spawn.ts signalTree) reaches it twice (harmless for these).
 */
const RELAY = String.raw`'use strict';
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const { spawn, spawnSync } = require('node:child_process');
const say = (line) => {
  try { fs.writeSync(2, 'switchboard network relay: ' + line + '\n'); } catch {}
};
const config = JSON.parse(process.argv[1]);
const argv = process.argv.slice(2);
const held = JSON.parse(process.env.${RELAY_ENV} || '{}');
const env = Object.assign({}, process.env);
delete env.${RELAY_ENV};
Object.assign(env, held);
const lo = spawnSync(config.ip, ['link', 'set', 'lo', 'up'], {
  stdio: ['ignore', 'ignore', 'pipe'], timeout: 5000, env: {}, encoding: 'utf8',
});
if (lo.status !== 0) {
  say('ip link set lo up failed: ' + ((lo.stderr || '').trim() || String(lo.error || 'exit ' + lo.status)));
  process.exit(125);
}
function splice(inner, socket) {
  const outer = net.createConnection({ path: socket, allowHalfOpen: true });
  const timer = setTimeout(() => outer.destroy(new Error('connect timeout')), config.connectTimeoutMs);
  outer.once('connect', () => clearTimeout(timer));
  const fail = () => { clearTimeout(timer); inner.destroy(); outer.destroy(); };
  inner.on('error', fail);
  outer.on('error', fail);
  inner.once('close', () => outer.destroy());
  outer.once('close', () => {
    clearTimeout(timer);
    inner.end();
    if (inner.writableFinished) inner.destroy();
    else inner.once('finish', () => inner.destroy());
  });
  inner.pipe(outer);
  outer.pipe(inner);
}
function listen(relay) {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ allowHalfOpen: true }, (inner) => {
      try { splice(inner, relay.socket); } catch (error) { inner.destroy(); }
    });
    server.maxConnections = config.maxConnections;
    server.once('error', (error) =>
      reject(new Error('cannot listen on 127.0.0.1:' + relay.port + ' for ' + relay.socket + ': ' + (error.code || error.message))));
    server.listen({ host: '127.0.0.1', port: relay.port, exclusive: true }, () => {
      server.removeAllListeners('error');
      server.on('error', (error) => say('relay 127.0.0.1:' + relay.port + ': ' + error.message));
      resolve(server);
    });
  });
}
function start() {
  const wrapper = [
    ...(config.pdeathsig ? ['--pdeathsig', 'KILL'] : []),
    ...(config.boundingSet ? ['--bounding-set', config.boundingSet] : []),
  ];
  const [command, ...args] = wrapper.length > 0 ? [config.setpriv, ...wrapper, '--', ...argv] : argv;
  const child = spawn(command, args, { stdio: 'inherit', env });
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'])
    process.on(signal, () => { try { child.kill(signal); } catch {} });
  child.once('error', (error) => {
    say('cannot start ' + argv[0] + ': ' + (error.code || error.message));
    process.exit(error.code === 'ENOENT' ? 127 : 126);
  });
  child.once('exit', (code, signal) => {
    if (!signal) process.exit(code === null ? 1 : code);
    const fallback = 128 + (os.constants.signals[signal] || 0);
    if (process.pid === 1) process.exit(fallback);
    process.removeAllListeners(signal);
    try { process.kill(process.pid, signal); } catch {}
    setTimeout(() => process.exit(fallback), 500);
  });
}
Promise.all(config.relays.map(listen)).then(start, (error) => {
  say(error.message);
  process.exit(125);
});
`;

/**
 * argv running `argv` (the program) under the relay program inside the namespace; the caller
 * puts enterNetns() (or `--net` in its own unshare) before it. `setpriv` (containment's, which
 * can set one): the program also gets a parent-death signal from the relay (it is the relay's
 * child, not the wrappers'). As root, the program runs without DROPPED_CAPABILITIES.
 */
export function relayArgv(
  isolation: IsolationAvailable,
  network: ContainedNetwork,
  argv: string[],
  setpriv?: string,
): string[] {
  for (const { port, socket } of network.relays) {
    if (!Number.isInteger(port) || port < 1 || port > 65_535)
      throw new SwitchboardError('internal', `network relay port ${port} is not a TCP port`);
    if (!socket.startsWith('/') || Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES)
      throw new SwitchboardError(
        'internal',
        `network relay socket ${socket} is not an absolute path of at most ${MAX_SOCKET_PATH_BYTES} bytes`,
      );
  }
  const config = {
    ip: isolation.ip,
    relays: network.relays.map(({ port, socket }) => ({ port, socket })),
    maxConnections: RELAY_MAX_CONNECTIONS,
    connectTimeoutMs: RELAY_CONNECT_TIMEOUT_MS,
    setpriv: isolation.setpriv ?? setpriv,
    pdeathsig: setpriv !== undefined,
    ...(isolation.setpriv ? { boundingSet: DROPPED_CAPABILITIES } : {}),
  };
  return [process.execPath, '-e', RELAY, JSON.stringify(config), ...argv];
}
