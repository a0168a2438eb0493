/**
 * A benchmark stopped from outside leaves none of its processes running (test/bench/
 * processes.ts): `bench | head` closing its stdout (EPIPE) and a SIGTERM. Before, both ended
 * the bench without its `finally`, and its gateways ran on, orphaned. Regression test.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, TSX_LOADER } from '../bench/processes.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-bench-stop-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A bench that starts one long-sleeping child, says its pid, then prints forever. */
const BENCH = `
import { Processes } from ${JSON.stringify(path.join(REPO, 'test/bench/processes.ts'))};
const processes = new Processes(${JSON.stringify(tmp)});
const proc = processes.launch('sleeper', ['-e', 'setTimeout(() => {}, 600000)'], process.env);
process.stderr.write(proc.pid + '\\n');
try {
  for (;;) {
    process.stdout.write('line\\n');
    await new Promise((r) => setTimeout(r, 5));
  }
} finally {
  await processes.stopAll();
}
`;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
};

async function run(stop: (bench: ReturnType<typeof spawn>) => void): Promise<number> {
  const file = path.join(tmp, `bench-${Math.random().toString(36).slice(2)}.mts`);
  fs.writeFileSync(file, BENCH);
  const bench = spawn(process.execPath, ['--import', TSX_LOADER, file], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = await new Promise<number>((resolve, reject) => {
    let err = '';
    bench.stderr?.on('data', (d) => {
      err += d;
      const line = err.split('\n')[0];
      if (err.includes('\n') && line && /^\d+$/.test(line)) resolve(Number(line));
    });
    bench.on('exit', (code) => reject(new Error(`bench exited ${code}: ${err}`)));
  });
  expect(alive(pid)).toBe(true);
  stop(bench);
  await new Promise((resolve) => bench.once('exit', resolve));
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  return pid;
}

describe('a benchmark stopped from outside', () => {
  it('`bench | head`: its stdout closed, its children are stopped', async () => {
    const pid = await run((bench) => bench.stdout?.destroy());
    expect(alive(pid)).toBe(false);
  }, 30_000);

  it('SIGTERM: its children are stopped', async () => {
    const pid = await run((bench) => bench.kill('SIGTERM'));
    expect(alive(pid)).toBe(false);
  }, 30_000);
});
