import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/gateway.ts';

const run = promisify(execFile);
const OPEN = path.join(REPO_ROOT, 'test/fixtures/embedded-open/open.ts');

// Issue 20: PGlite's initdb, run in the gateway's own process, took it to ~900 MB resident
// (two more WASM instances and the new data dir as an in-memory tarball). It runs in a child
// now; the gateway's process stays near a start on an existing data dir (~250 MB).
describe('creating the embedded database', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-create-'));
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('runs initdb outside the process that opens it', { timeout: 180_000 }, async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', OPEN, dataDir], {
      cwd: REPO_ROOT,
    });
    const result = JSON.parse(stdout) as { one: number; hwmKb: number };
    expect(result.one).toBe(1);
    expect(fs.existsSync(path.join(dataDir, 'pgdata/PG_VERSION'))).toBe(true);
    // Before: 830–930 MB. After: 230–270 MB (node, tsx, PGlite on an existing data dir).
    expect(result.hwmKb).toBeLessThan(500 * 1024);
  });
});
