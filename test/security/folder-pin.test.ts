/**
 * The policy's `sha256` folder pin (issue 13, item 6) could be bypassed: the hash skipped
 * `node_modules`, `dist`, `.data`, `__pycache__` and `.git`; a symlink counted by its target's
 * path, not its content; and servers were spawned later from the live folder, unchecked. A
 * pinned folder that changes after judgement must refuse the next spawn, and no symlink may
 * lead a pinned (or any manifest-named) path out of the folder.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackgroundProcess } from '../../gateway/src/integrations/background-process.ts';
import { FolderEscape, hashFolder } from '../../gateway/src/integrations/folder-hash.ts';
import { judgeFolder } from '../../gateway/src/integrations/folder-pin.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';
import { hostileIntegrations } from '../helpers/hostile.ts';
import { messagesOf, post, toolCall } from '../helpers/mcp-gateway.ts';
import { readReports, waitFor } from '../helpers/processes.ts';

describe('a pinned folder changed after judgement', () => {
  const { dirs, policy, root } = hostileIntegrations({
    manifest: '  instances: task\n',
    quiet: true,
  });
  const hostile = path.join(dirs, 'hostile');
  const dependency = path.join(hostile, 'node_modules/dep/index.js');
  const compiled = path.join(hostile, 'dist/server.js');
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  beforeAll(async () => {
    fs.mkdirSync(path.dirname(dependency), { recursive: true });
    fs.writeFileSync(dependency, 'export const ok = true;\n');
    fs.mkdirSync(path.dirname(compiled), { recursive: true });
    fs.writeFileSync(compiled, 'console.log("built");\n');
    // The runtime data folder may change freely: it is not hashed.
    fs.mkdirSync(path.join(hostile, '.data'));
    const pin = await hashFolder(hostile);
    fs.writeFileSync(
      policy,
      fs
        .readFileSync(policy, 'utf8')
        .replace(
          '  hostile:\n    enabled: true\n',
          `  hostile:\n    enabled: true\n    sha256: "${pin}"\n`,
        ),
    );
    // quiet runs a command that is a symlink out of its folder: refused, pinned or not.
    const quiet = path.join(dirs, 'quiet');
    fs.mkdirSync(path.join(quiet, 'bin'));
    fs.symlinkSync(process.execPath, path.join(quiet, 'bin/node'));
    const manifest = path.join(quiet, 'switchboard.yaml');
    fs.writeFileSync(
      manifest,
      fs.readFileSync(manifest, 'utf8').replace('command: node', 'command: ./bin/node'),
    );
  });
  const gw = useTestGateway({ INTEGRATION_DIRS: dirs, SWITCHBOARD_POLICY: policy });

  /** A fresh task: under `instances: task` its first call spawns a server. */
  async function echo(): Promise<Record<string, unknown>> {
    const res = await fetch(`${gw().url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ external: true, scope: ['hostile:*'] }),
    });
    const granted = (await res.json()) as { integrations: Array<{ url: string; token: string }> };
    const { url, token } = granted.integrations[0]!;
    const called = await post(url, token, toolCall(1, 'echo', { text: 'hi' }));
    const [answer] = messagesOf(called.headers.get('content-type'), await called.text());
    return answer!;
  }

  const refusals = () =>
    gw().logs.lines.filter(
      (l) => l.msg === 'integration folder changed since it was judged; spawn refused',
    );

  it('starts servers while the folder is as pinned (the data folder may change)', async () => {
    expect(gw().registry.get('hostile')?.state).toBe('ready');
    fs.writeFileSync(path.join(hostile, '.data/notes.json'), '{}');
    expect(await echo()).toMatchObject({ result: { content: [{ text: 'hi' }] } });
  });

  for (const [what, file] of [
    ['node_modules', dependency],
    ['dist', compiled],
  ] as const) {
    it(`refuses the next spawn once a file in ${what} changed, and allows it again once restored`, async () => {
      const before = fs.readFileSync(file);
      const logged = refusals().length;
      fs.appendFileSync(file, 'globalThis.pwned = true;\n');
      const refused = await echo();
      expect(refused.error).toMatchObject({
        data: { code: 'hash_mismatch', integration: 'hostile' },
      });
      expect(String((refused.error as { message: string }).message)).toContain(
        'its folder changed since it was judged',
      );
      expect(refusals().length).toBeGreaterThan(logged);
      fs.writeFileSync(file, before);
      expect(await echo()).toMatchObject({ result: { content: [{ text: 'hi' }] } });
    });
  }

  it('refuses an integration whose command is a symlink out of its folder', () => {
    const quiet = gw().registry.get('quiet');
    expect(quiet?.state).toBe('refused');
    expect(quiet?.reasons).toEqual([
      expect.objectContaining({
        code: 'symlink_escape',
        message: expect.stringContaining('server.command'),
      }),
    ]);
  });
});

describe('the folder hash', () => {
  let dir: string;
  let outside: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'folder-pin-'));
    outside = fs.mkdtempSync(path.join(os.tmpdir(), 'folder-pin-outside-'));
    fs.writeFileSync(path.join(dir, 'server.js'), 'console.log(1);\n');
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  });

  it('follows a symlink inside the folder to its content', async () => {
    // Its target in node_modules, which the hash once skipped (the link counted by its path).
    fs.mkdirSync(path.join(dir, 'node_modules/lib'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'node_modules/lib/real.js'), 'one\n');
    fs.symlinkSync('node_modules/lib/real.js', path.join(dir, 'entry.js'));
    const first = await hashFolder(dir);
    fs.writeFileSync(path.join(dir, 'node_modules/lib/real.js'), 'two\n');
    expect(await hashFolder(dir)).not.toBe(first);
  });

  it('covers node_modules, dist and __pycache__, and skips only .git and .data', async () => {
    let last = await hashFolder(dir);
    for (const file of ['node_modules/x/other.js', 'dist/a.js', '__pycache__/s.cpython-312.pyc']) {
      fs.mkdirSync(path.join(dir, path.dirname(file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), 'code');
      const now = await hashFolder(dir);
      expect(now).not.toBe(last);
      last = now;
    }
    for (const file of ['.git/HEAD', '.data/notes.json']) {
      fs.mkdirSync(path.join(dir, path.dirname(file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), 'data');
      expect(await hashFolder(dir)).toBe(last);
    }
  });

  it('refuses a symlink anywhere in the folder whose target leaves it or enters .data', async () => {
    const sub = fs.mkdtempSync(path.join(dir, 'case-'));
    fs.writeFileSync(path.join(outside, 'evil.js'), 'evil\n');
    fs.mkdirSync(path.join(sub, 'node_modules/dep'), { recursive: true });
    const link = path.join(sub, 'node_modules/dep/index.js');
    fs.symlinkSync(path.join(outside, 'evil.js'), link);
    await expect(hashFolder(dir)).rejects.toBeInstanceOf(FolderEscape);
    fs.rmSync(link);
    fs.symlinkSync('../../../.data/notes.json', link);
    await expect(hashFolder(dir)).rejects.toBeInstanceOf(FolderEscape);
    fs.rmSync(link);
    // A dangling link is judged by where it points.
    fs.symlinkSync(path.join(outside, 'not-yet'), link);
    await expect(hashFolder(dir)).rejects.toBeInstanceOf(FolderEscape);
    fs.rmSync(sub, { recursive: true });
    await expect(hashFolder(dir)).resolves.toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("a pinned folder's background process", () => {
  it('is not started once the folder changed after judgement, and says why', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'folder-pin-process-'));
    try {
      fs.copyFileSync(
        path.join(REPO_ROOT, 'test/fixtures/processes/reporter.mjs'),
        path.join(dir, 'reporter.mjs'),
      );
      fs.mkdirSync(path.join(dir, 'node_modules/dep'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'node_modules/dep/index.js'), 'export {};\n');
      const manifest = {
        server: { transport: 'stdio', command: 'node', args: [] },
        processes: [],
      } as unknown as Parameters<typeof judgeFolder>[2];
      const log = createLogger('silent');
      const judged = await judgeFolder('demo', dir, manifest, await hashFolder(dir), log);
      expect(judged.reasons).toEqual([]);
      const start = (report: string) => {
        const p = new BackgroundProcess(
          {
            integration: 'demo',
            name: 'listener',
            command: process.execPath,
            args: ['reporter.mjs'],
            cwd: dir,
            env: { PATH: process.env.PATH ?? '', REPORT_FILE: path.join(dir, '.data', report) },
            missing: [],
            beforeSpawn: () => judged.pin!.verify('process listener'),
          },
          log,
        );
        p.start();
        return p;
      };
      fs.mkdirSync(path.join(dir, '.data'));
      const first = start('first.jsonl');
      await waitFor(() => readReports(path.join(dir, '.data/first.jsonl')).length === 1);
      await first.stop();

      fs.appendFileSync(path.join(dir, 'node_modules/dep/index.js'), 'globalThis.x = 1;\n');
      const second = start('second.jsonl');
      await waitFor(() => second.status().lastExit !== null);
      expect(second.status()).toMatchObject({ state: 'stopped', pid: undefined });
      expect(second.status().lastExit).toContain('its folder changed since it was judged');
      expect(fs.existsSync(path.join(dir, '.data/second.jsonl'))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
