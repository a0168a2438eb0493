/**
 * Issue 18 item 7: docs/tutorial-first-integration.md, run as written. Every ```sh block after a
 * `<!-- tutorial -->` marker runs, in order, in one bash script (`set -euo pipefail`: any
 * failing command fails the test) from a new folder inside the repository: init → unittest →
 * validate → policy → start → secret → reload → webhook send → task watch. Then the test reads
 * what the commands left behind: the task completed after its agent called `greeter__hello`,
 * and the integration's dispatcher logged the result. Only the port (PORT, read by the gateway
 * and the CLI) and, on the PostgreSQL pass, DATABASE_URL come from the test.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testDatabase } from '../helpers/database.ts';
import { REPO_ROOT } from '../helpers/gateway.ts';
import { freePort } from '../helpers/processes.ts';

const TUTORIAL = path.join(REPO_ROOT, 'docs/tutorial-first-integration.md');

/** The blocks the tutorial marks as runnable, in order. */
function tutorialBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/<!-- tutorial -->\n```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

interface Ran {
  code: number | null;
  output: string;
}

/** bash in its own process group, so the gateway the tutorial starts in the background stops with it. */
function runScript(script: string, cwd: string, env: NodeJS.ProcessEnv) {
  const child = spawn('bash', ['-c', script], { cwd, env, detached: true });
  let output = '';
  child.stdout.on('data', (d) => {
    output += d;
  });
  child.stderr.on('data', (d) => {
    output += d;
  });
  const done = new Promise<Ran>((resolve) =>
    child.on('close', (code) => resolve({ code, output })),
  );
  return { group: child.pid!, done };
}

describe('docs/tutorial-first-integration.md, run as written (issue 18)', () => {
  const root = path.join(
    REPO_ROOT,
    `test/fixtures/.generated-tutorial-${randomUUID().slice(0, 8)}`,
  );
  const work = path.join(root, 'my-switchboard');
  let group: number | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  afterAll(async () => {
    if (group !== undefined) {
      try {
        process.kill(-group, 'SIGTERM');
      } catch {
        // already gone
      }
      // The gateway's graceful stop (its processes, the embedded database) before the folder goes.
      await new Promise((r) => setTimeout(r, 3000));
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // stopped
      }
    }
    await cleanup?.();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('has the steps the issue asks for', () => {
    const script = tutorialBlocks(fs.readFileSync(TUTORIAL, 'utf8')).join('\n');
    for (const step of [
      'switchboard init greeter --lang python',
      'python3 -B -m unittest',
      'switchboard integrations validate',
      'switchboard start',
      'switchboard integrations reload greeter',
      'switchboard webhook send greeter events',
      'switchboard task watch',
    ]) {
      expect(script).toContain(step);
    }
  });

  it('init → validate → ready → webhook send → a task whose agent calls the tool → the dispatcher', async () => {
    fs.mkdirSync(root, { recursive: true });
    const blocks = tutorialBlocks(fs.readFileSync(TUTORIAL, 'utf8'));
    const db = await testDatabase();
    cleanup = db.cleanup;
    const port = await freePort();
    // Only what a reader's shell has: no DATABASE_URL on the embedded pass, nothing of the test's.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      ...(db.env.DATABASE_URL !== undefined && { DATABASE_URL: db.env.DATABASE_URL }),
    };
    const ran = runScript(`set -euo pipefail\n${blocks.join('\n')}`, root, env);
    group = ran.group;
    const { code, output } = await ran.done;
    expect(code, output).toBe(0);

    // The commands' own words: validate, the reload that made it ready, the delivery, the task.
    expect(output).toContain('valid (greeter 0.1.0)');
    expect(output).toMatch(/greeter\s+0\.1\.0\s+stdio\s+ready\s+advisory\s+1\s/);
    expect(output).toMatch(/HTTP 202/);
    expect(output).toMatch(/delivery \S+\s+done/);
    expect(output).toMatch(/tool greeter__hello ok/);
    expect(output).toMatch(/complete/);

    // The result went back through the scaffold's dispatcher, which logs it (gateway.log).
    const log = path.join(work, 'gateway.log');
    await expect
      .poll(() => fs.readFileSync(log, 'utf8'), { timeout: 30_000 })
      .toMatch(/task \S+ complete for thread 1: .*Hello, Ada!/);
  }, 300_000);
});
