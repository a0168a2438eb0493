import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { killAll } from '../helpers/processes.ts';

// The test helper that cleans up processes a test listed: a process that exited between the
// listing and the kill (a gateway finishing its own shutdown) failed logs.test.ts in CI with
// "kill ESRCH" although every assertion had passed.
describe('killAll (test/helpers/processes.ts)', () => {
  it('kills the processes that still run and skips one that already exited', async () => {
    const gone = spawn(process.execPath, ['-e', '']);
    await once(gone, 'exit');
    const running = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    const exited = once(running, 'exit');
    expect(() => killAll([gone.pid!, running.pid!])).not.toThrow();
    const [, signal] = await exited;
    expect(signal).toBe('SIGKILL');
  });
});
