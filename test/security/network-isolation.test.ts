/**
 * Issue 21: an integration's program that ignores HTTP(S)_PROXY, run with its network isolated
 * (containment/netns.ts), reaches nothing but its relays: not the host's loopback listeners (the
 * gateway's API, the database, the proxy's TCP port), not the cloud metadata service, no other
 * address, IPv4 or IPv6, TCP or UDP; it does not even see the host's interfaces. Where the
 * machine cannot isolate, spawnContained refuses (`isolation_unavailable`, saying what is
 * missing) instead of running the program without.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  networkIsolation,
  probeNetworkIsolation,
  resetNetworkIsolation,
} from '../../gateway/src/containment/netns.ts';
import { spawnContained } from '../../gateway/src/containment/spawn.ts';
import { SwitchboardError } from '../../gateway/src/errors.ts';
import {
  echoServer,
  PROBE_TARGETS,
  runContained,
  socketDir,
} from '../helpers/network-isolation.ts';

const dir = socketDir();
const socket = `${dir.path}/relay.sock`;
let hostEcho: Awaited<ReturnType<typeof echoServer>>;
let unixEcho: Awaited<ReturnType<typeof echoServer>>;
const RELAY_PORT = 4100;
const ENV = { PATH: '/usr/bin:/bin:/usr/sbin:/sbin' };
const network = { relays: [{ port: RELAY_PORT, socket }] };

beforeAll(async () => {
  hostEcho = await echoServer({ port: 0, host: '127.0.0.1' });
  unixEcho = await echoServer({ path: socket });
});
afterAll(async () => {
  await hostEcho.close();
  await unixEcho.close();
  dir.remove();
});

const probe = (targets: Array<{ host: string; port: number }>) =>
  runContained(spawnContained, {
    label: 'netns-attack',
    command: process.execPath,
    args: ['-e', PROBE_TARGETS, JSON.stringify(targets)],
    env: ENV,
    network,
  });

describe('an isolated program', () => {
  it('cannot reach the host’s loopback listeners, on 127.0.0.1 or any 127/8 address or ::1', async () => {
    expect(networkIsolation()).toMatchObject({ available: true });
    const outcome = await probe([
      { host: '127.0.0.1', port: hostEcho.port },
      { host: '127.1.2.3', port: hostEcho.port },
      { host: '::1', port: hostEcho.port },
      { host: 'localhost', port: hostEcho.port },
      // The relay itself still answers: the refusals above are not a broken namespace.
      { host: '127.0.0.1', port: RELAY_PORT },
    ]);
    expect(outcome.code, outcome.stderr).toBe(0);
    expect(JSON.parse(outcome.stdout.toString())).toEqual([
      'ECONNREFUSED',
      'ECONNREFUSED',
      'ECONNREFUSED',
      'ECONNREFUSED',
      'connected: ping',
    ]);
  });

  it('cannot reach the metadata service or any non-loopback address (ENETUNREACH)', async () => {
    const outcome = await probe([
      { host: '169.254.169.254', port: 80 },
      { host: '10.0.0.1', port: 80 },
      { host: '192.168.1.1', port: 443 },
      { host: '8.8.8.8', port: 53 },
      { host: '2001:4860:4860::8888', port: 443 },
      { host: 'fd00::1', port: 80 },
    ]);
    expect(outcome.code, outcome.stderr).toBe(0);
    expect(JSON.parse(outcome.stdout.toString())).toEqual(Array(6).fill('ENETUNREACH'));
  });

  it('cannot send UDP anywhere off loopback, nor resolve names', async () => {
    const script = `
      const dgram = require('node:dgram');
      const dns = require('node:dns');
      const send = (host) => new Promise((resolve) => {
        const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
        s.send('x', 53, host, (error) => { s.close(); resolve(error ? error.code : 'sent'); });
      });
      Promise.all([
        send('8.8.8.8'), send('169.254.169.254'), send('2001:4860:4860::8888'),
        dns.promises.lookup('example.com').then(() => 'resolved', (e) => 'failed'),
      ]).then((r) => process.stdout.write(JSON.stringify(r)));
    `;
    const outcome = await runContained(spawnContained, {
      label: 'netns-udp',
      command: process.execPath,
      args: ['-e', script],
      env: ENV,
      network,
    });
    expect(outcome.code, outcome.stderr).toBe(0);
    expect(JSON.parse(outcome.stdout.toString())).toEqual([
      'ENETUNREACH',
      'ENETUNREACH',
      'ENETUNREACH',
      'failed',
    ]);
  });

  it('sees no interface but its own lo', async () => {
    const outcome = await runContained(spawnContained, {
      label: 'netns-links',
      command: 'ip',
      args: ['-o', 'link'],
      env: ENV,
      network,
    });
    expect(outcome.code, outcome.stderr).toBe(0);
    const names = outcome.stdout
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(': ')[1]);
    expect(names).toEqual(['lo']);
    expect(outcome.stdout.toString()).toMatch(/state UNKNOWN|UP/);
  });
});

describe('an isolated program run as root', () => {
  const asRoot = process.getuid?.() === 0;
  const run = (command: string, args: string[]) =>
    runContained(spawnContained, { label: 'netns-root', command, args, env: ENV, network });

  it('cannot enter the gateway’s network namespace (nsenter, setns)', async (ctx) => {
    if (!asRoot) ctx.skip(); // without CAP_SYS_ADMIN setns is refused anyway
    // Before the capabilities were cut this printed the host's eth0: the whole network.
    const outcome = await run('nsenter', [
      `--net=/proc/${process.pid}/ns/net`,
      '--',
      'ip',
      '-o',
      'link',
    ]);
    expect(outcome.code).not.toBe(0);
    expect(outcome.stdout.toString()).toBe('');
    expect(outcome.stderr).toMatch(/Permission denied|Operation not permitted/);
  });

  it('cannot add interfaces or routes to its namespace', async (ctx) => {
    if (!asRoot) ctx.skip();
    const outcome = await run('ip', ['link', 'add', 'sb-escape', 'type', 'dummy']);
    expect(outcome.code).not.toBe(0);
    expect(outcome.stderr).toMatch(/Operation not permitted/);
  });

  it('has SYS_ADMIN, NET_ADMIN, SYS_PTRACE, SYS_MODULE, SYS_RAWIO and BPF out of its bounding set', async (ctx) => {
    if (!asRoot) ctx.skip();
    const outcome = await run('grep', ['^CapBnd', '/proc/self/status']);
    const bounding = BigInt(`0x${outcome.stdout.toString().split(':')[1]!.trim()}`);
    // linux/capability.h: NET_ADMIN 12, SYS_MODULE 16, SYS_RAWIO 17, SYS_PTRACE 19, SYS_ADMIN 21, BPF 39
    for (const bit of [12n, 16n, 17n, 19n, 21n, 39n]) expect((bounding >> bit) & 1n).toBe(0n);
    expect((bounding >> 10n) & 1n).toBe(1n); // NET_BIND_SERVICE stays: a relay port below 1024 is fine
  });
});

describe('a machine that cannot isolate', () => {
  const fakes: string[] = [];
  afterEach(() => {
    resetNetworkIsolation(); // the real probe again for the tests after
    for (const fake of fakes.splice(0)) fs.rmSync(fake, { recursive: true, force: true });
  });
  /** A directory of binaries: links to the real ones named, scripts for the rest. */
  function binDir(links: string[], scripts: Record<string, string> = {}): string {
    const fake = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-netns-bin-'));
    fakes.push(fake);
    for (const name of links) {
      const real = ['/usr/bin', '/bin', '/usr/sbin', '/sbin']
        .map((d) => path.join(d, name))
        .find((f) => fs.existsSync(f));
      fs.symlinkSync(real!, path.join(fake, name));
    }
    for (const [name, text] of Object.entries(scripts))
      fs.writeFileSync(path.join(fake, name), `#!/bin/sh\n${text}\n`, { mode: 0o755 });
    return fake;
  }

  /** spawnContained must throw isolation_unavailable and start nothing (the marker stays absent). */
  function refuses(reason: RegExp): void {
    const marker = path.join(dir.path, `started-${Math.random().toString(36).slice(2)}`);
    let thrown: unknown;
    try {
      spawnContained({ label: 'x', command: 'touch', args: [marker], env: ENV, network });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SwitchboardError);
    expect((thrown as SwitchboardError).code).toBe('isolation_unavailable');
    expect((thrown as SwitchboardError).status).toBe(503);
    expect((thrown as SwitchboardError).message).toMatch(reason);
    expect(fs.existsSync(marker)).toBe(false);
  }

  it('refuses when util-linux unshare is not found', () => {
    resetNetworkIsolation([binDir(['ip', 'sh'])]);
    refuses(/network isolation is not available: util-linux unshare not found/);
  });

  it('refuses when unshare --net is not permitted, quoting its stderr', () => {
    resetNetworkIsolation([
      binDir(['ip', 'sh'], {
        unshare: 'echo "unshare: unshare failed: Operation not permitted" >&2; exit 1',
      }),
    ]);
    refuses(
      /`unshare --net` refused: unshare: unshare failed: Operation not permitted .*CAP_SYS_ADMIN/,
    );
  });

  it('refuses when ip (iproute2) is not found', () => {
    resetNetworkIsolation([binDir(['unshare', 'sh'])]);
    refuses(/`ip` \(iproute2\) not found/);
  });

  it('refuses when lo cannot be brought up', () => {
    resetNetworkIsolation([
      binDir(['unshare', 'sh'], { ip: 'echo "RTNETLINK answers: nope" >&2; exit 2' }),
    ]);
    refuses(/`ip link set lo up` failed in a new network namespace: RTNETLINK answers: nope/);
  });

  it('refuses as root when setpriv (to cut the capabilities) is not found', (ctx) => {
    if (process.getuid?.() !== 0) ctx.skip();
    resetNetworkIsolation([binDir(['unshare', 'ip', 'sh'])]);
    refuses(/util-linux setpriv not found .*can leave its network namespace/);
  });

  it('probes once: a later change of the machine is not seen until reset', () => {
    const fake = binDir(['ip', 'sh', 'setpriv']);
    resetNetworkIsolation([fake]);
    expect(networkIsolation()).toMatchObject({ available: false });
    fs.symlinkSync('/usr/bin/unshare', path.join(fake, 'unshare'));
    expect(networkIsolation()).toMatchObject({ available: false });
    expect(probeNetworkIsolation([fake])).toMatchObject({ available: true });
  });
});
