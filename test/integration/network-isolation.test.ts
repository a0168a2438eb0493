/**
 * Issue 21: a program spawned with `network.relays` runs in a network namespace of its own
 * (containment/netns.ts) under every containment mode this machine offers. Inside, 127.0.0.1 is
 * the namespace's own loopback: the host's listeners are not there, a relay port reaches its
 * unix socket. The relay program in between changes nothing else: stdio byte for byte, the exit
 * code, signals, the environment. Real processes, real sockets.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Containment } from '../../gateway/src/containment/detect.ts';
import { CONTAINMENT_MODES } from '../../gateway/src/containment/detect.ts';
import type * as SpawnModule from '../../gateway/src/containment/spawn.ts';
import {
  echoServer,
  PROBE_TARGETS,
  runContained,
  socketDir,
} from '../helpers/network-isolation.ts';

const dir = socketDir();
const socket = `${dir.path}/echo.sock`;
let hostEcho: Awaited<ReturnType<typeof echoServer>>;
let unixEcho: Awaited<ReturnType<typeof echoServer>>;
/** Any port: the namespace is new, nothing else listens in it. */
const RELAY_PORT = 4100;
const ENV = { PATH: '/usr/bin:/bin', ONLY_THIS: 'yes', WITH_SPACE: 'a b\tc' };

beforeAll(async () => {
  hostEcho = await echoServer({ port: 0, host: '127.0.0.1' });
  unixEcho = await echoServer({ path: socket });
});
afterAll(async () => {
  await hostEcho.close();
  await unixEcho.close();
  dir.remove();
});

const node = (script: string, ...args: string[]) => ({
  command: process.execPath,
  args: ['-e', script, ...args],
});

describe.each(CONTAINMENT_MODES)('network isolation under %s containment', (mode) => {
  let spawn: typeof SpawnModule;
  let c: Containment;
  beforeAll(async () => {
    // Containment is found once per module instance: a fresh one per mode.
    vi.resetModules();
    const detect = await import('../../gateway/src/containment/detect.ts');
    c = detect.containment(mode);
    spawn = await import('../../gateway/src/containment/spawn.ts');
  });
  const offered = (ctx: { skip: () => void }) => {
    if (c.mode !== mode) {
      console.info(
        `skipped: this machine does not offer ${mode} containment (${c.notes.join('; ')})`,
      );
      ctx.skip();
    }
  };
  const run = (
    program: { command: string; args: string[] },
    options?: Parameters<typeof runContained>[2],
    relays = [{ port: RELAY_PORT, socket }],
  ) =>
    runContained(
      spawn.spawnContained,
      { label: `netns-${mode}`, ...program, env: ENV, network: { relays } },
      options,
    );

  it('reaches the relay (its unix socket), not the host loopback', async (ctx) => {
    offered(ctx);
    const targets = [
      { host: '127.0.0.1', port: hostEcho.port },
      { host: '127.0.0.1', port: RELAY_PORT },
    ];
    const outcome = await run(node(PROBE_TARGETS, JSON.stringify(targets)));
    expect(outcome.stderr).toBe('');
    expect(outcome.code).toBe(0);
    expect(JSON.parse(outcome.stdout.toString())).toEqual(['ECONNREFUSED', 'connected: ping']);
  });

  it('passes stdin and stdout through byte for byte', async (ctx) => {
    offered(ctx);
    // Every byte value, CR/LF, NULs, 256 KiB: more than one pipe buffer each way.
    const lines = Array.from({ length: 2048 }, (_, i) => `line ${i}\r\n\0${'x'.repeat(i % 97)}\n`);
    const bytes = Buffer.alloc(256);
    for (let i = 0; i < 256; i++) bytes[i] = i;
    const input = Buffer.concat([Buffer.from(lines.join('')), bytes, Buffer.alloc(128 * 1024, 7)]);
    const outcome = await run({ command: 'cat', args: [] }, { stdin: input });
    expect(outcome.code).toBe(0);
    expect(outcome.stdout.equals(input)).toBe(true);
  });

  it('gives the program exactly spec.env, also what Node (the relay) would obey', async (ctx) => {
    offered(ctx);
    const outcome = await run(node('process.stdout.write(JSON.stringify(process.env))'));
    expect(outcome.code).toBe(0);
    expect(JSON.parse(outcome.stdout.toString())).toEqual(ENV);
    // NODE_OPTIONS that no Node accepts, a preload that is not there, NODE_DEBUG: the relay runs
    // unaffected, and the program (`env`, not Node) gets each exactly, and the carrier's name too.
    const nodeEnv = {
      ...ENV,
      NODE_OPTIONS: '--no-such-option --require ./not-there.js',
      NODE_DEBUG: 'net,child_process',
      OPENSSL_CONF: '/nonexistent/openssl.cnf',
      SWITCHBOARD_NETNS_RELAY_ENV: '{"PATH":"/evil"}',
    };
    const printed = await runContained(spawn.spawnContained, {
      label: `netns-${mode}`,
      command: 'env',
      args: ['-0'],
      env: nodeEnv,
      network: { relays: [{ port: RELAY_PORT, socket }] },
    });
    expect(printed.stderr).toBe('');
    expect(printed.code).toBe(0);
    const seen = Object.fromEntries(
      printed.stdout
        .toString()
        .split('\0')
        .filter(Boolean)
        .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
    );
    expect(seen).toEqual(nodeEnv);
  });

  it('exits with the program’s exit code, run in spec.cwd', async (ctx) => {
    offered(ctx);
    const outcome = await run(node('process.exit(7)'));
    expect([outcome.code, outcome.signal]).toEqual([7, null]);
    const where = await runContained(spawn.spawnContained, {
      label: `netns-${mode}`,
      ...node('process.stdout.write(process.cwd())'),
      cwd: dir.path,
      env: ENV,
      network: { relays: [] },
    });
    expect(where.stdout.toString()).toBe(dir.path);
  });

  it('passes SIGTERM on to the program, and its death by it back', async (ctx) => {
    offered(ctx);
    // Signalled as the gateway does (the process group): the program handles it and says so.
    const handled = await run(
      node(
        "process.on('SIGTERM', () => { process.stdout.write('term\\n'); process.exit(0); });" +
          "process.stdout.write('ready\\n'); setInterval(() => {}, 1000);",
      ),
      {
        onStdout: (text, child) => {
          if (text === 'ready\n') spawn.signalTree(child, 'SIGTERM');
        },
      },
    );
    expect(handled.stdout.toString()).toBe('ready\nterm\n');
    expect([handled.code, handled.signal]).toEqual([0, null]);
    // Killed by it: the relay dies of the same signal (as a PID namespace's init it cannot, and
    // exits 128 + 15, which unshare passes on).
    const killed = await run(
      node("process.stdout.write('ready\\n'); setInterval(() => {}, 1000);"),
      {
        onStdout: (text, child) => {
          if (text === 'ready\n') spawn.signalTree(child, 'SIGTERM');
        },
      },
    );
    if (mode === 'pid-namespace') expect([killed.code, killed.signal]).toEqual([143, null]);
    else expect([killed.code, killed.signal]).toEqual([null, 'SIGTERM']);
  });

  it('forwards a SIGTERM sent to the relay alone', async (ctx) => {
    offered(ctx);
    if (mode === 'pid-namespace') {
      console.info(
        'skipped: in pid-namespace mode the spawned process is unshare, which passes no signal to the relay; the process-group SIGTERM case above covers the mode',
      );
      ctx.skip();
    }
    const outcome = await run(
      node(
        "process.on('SIGTERM', () => { process.stdout.write('term\\n'); process.exit(3); });" +
          "process.stdout.write('ready\\n'); setInterval(() => {}, 1000);",
      ),
      {
        onStdout: (text, child) => {
          if (text === 'ready\n') child.kill('SIGTERM');
        },
      },
    );
    expect(outcome.stdout.toString()).toBe('ready\nterm\n');
    expect(outcome.code).toBe(3);
  });

  it('does not start the program when a relay cannot listen', async (ctx) => {
    offered(ctx);
    const outcome = await run(node("process.stdout.write('started')"), undefined, [
      { port: RELAY_PORT, socket },
      { port: RELAY_PORT, socket },
    ]);
    expect(outcome.stdout.toString()).toBe('');
    expect(outcome.code).toBe(125);
    expect(outcome.stderr).toMatch(/cannot listen on 127\.0\.0\.1:4100 .*EADDRINUSE/);
  });

  it('reports a program that is not found (exit 127), started nowhere else', async (ctx) => {
    offered(ctx);
    const outcome = await run({ command: 'no-such-program-here', args: [] });
    expect(outcome.code).toBe(127);
    expect(outcome.stderr).toMatch(/no-such-program-here/);
  });
});
