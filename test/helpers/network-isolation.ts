import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ContainedSpec, spawnContained } from '../../gateway/src/containment/spawn.ts';

/** What a contained program did: its exit, and everything it wrote. */
export interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Spawns `spec` with `spawn` (a spawnContained), writes `stdin` and ends it, waits for 'close'. */
export async function runContained(
  spawn: typeof spawnContained,
  spec: ContainedSpec,
  options: {
    stdin?: Buffer;
    onStdout?: (text: string, child: ReturnType<typeof spawnContained>) => void;
  } = {},
): Promise<Outcome> {
  const child = spawn(spec);
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out.push(chunk);
    options.onStdout?.(Buffer.concat(out).toString(), child);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdin.on('error', () => {}); // a program that exits before reading all of it
  if (options.stdin) child.stdin.end(options.stdin);
  else if (!options.onStdout) child.stdin.end();
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('close', (c, s) => resolve([c, s])),
  );
  return { code, signal, stdout: Buffer.concat(out), stderr };
}

/** A server that sends back everything it reads; closed by the returned close(). */
export async function echoServer(
  listen: { port: 0; host: '127.0.0.1' } | { path: string },
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(listen, resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A private directory for unix sockets (0700), removed by the returned remove(). */
export function socketDir(): { path: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-netns-test-'));
  return { path: dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A Node program (for `node -e`) that tries each target in argv[1] (JSON: [{host, port}]) and
 * prints one JSON line: per target "connected: <echo>" or the error code. 5 s bounds each try.
 */
export const PROBE_TARGETS = `
const net = require('node:net');
const targets = JSON.parse(process.argv[1]);
const tryOne = ({ host, port }) => new Promise((resolve) => {
  const socket = net.connect({ host, port });
  socket.setTimeout(5000, () => { socket.destroy(); resolve('timeout'); });
  let data = '';
  socket.on('connect', () => socket.write('ping'));
  socket.on('data', (chunk) => { data += chunk; if (data === 'ping') { socket.destroy(); resolve('connected: ' + data); } });
  socket.on('error', (error) => resolve(error.code || error.message));
  socket.on('close', () => resolve(data ? 'connected: ' + data : 'closed'));
});
Promise.all(targets.map(tryOne)).then((results) => process.stdout.write(JSON.stringify(results) + '\\n'));
`;
