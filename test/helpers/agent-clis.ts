/**
 * Real agent CLIs for the end-to-end tests (issue 15): installed at pinned versions from npm
 * into `.cache/agent-clis/<package>@<version>/` by the tests themselves, not as project
 * dependencies (they are large, and a gateway does not need them). An install is done once per
 * machine and reused; concurrent test files wait for each other through a lock folder.
 *
 * When the package cannot be installed (no registry), `installAgentCli` answers the reason and
 * the suite skips loudly with it; it never passes silently.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe } from 'vitest';
import { REPO_ROOT } from './gateway.ts';

const run = promisify(execFile);

/** The versions the suite is pinned to (REFERENCES §J names the ones tried). */
export const AGENT_CLIS = {
  claude: { pkg: '@anthropic-ai/claude-code', version: '2.1.332', bin: 'claude' },
  codex: { pkg: '@openai/codex', version: '0.171.0', bin: 'codex' },
  // goose's npm package (one per platform; the binary is static) names its bin after itself,
  // not `goose`: agent-goose.test.ts puts a `goose` symlink on the gateway's PATH.
  goose: { pkg: '@aaif/goose-binary-linux-x64', version: '1.52.0', bin: 'goose-binary-linux-x64' },
} as const;
export type AgentCliName = keyof typeof AGENT_CLIS;

/** An install may download ~100 MB on a slow mirror. */
const INSTALL_TIMEOUT_MS = 10 * 60_000;
/** A lock older than this belongs to a test run that died. */
const STALE_LOCK_MS = INSTALL_TIMEOUT_MS + 60_000;

export type InstalledCli =
  | { ok: true; bin: string; version: string }
  | { ok: false; reason: string };

export async function installAgentCli(name: AgentCliName): Promise<InstalledCli> {
  const { pkg, version, bin } = AGENT_CLIS[name];
  const dir = path.join(REPO_ROOT, '.cache/agent-clis', `${pkg.replace('/', '+')}@${version}`);
  const binPath = path.join(dir, 'node_modules/.bin', bin);
  const done = path.join(dir, '.installed');
  if (fs.existsSync(done)) return { ok: true, bin: binPath, version };
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const lock = `${dir}.lock`;
  const deadline = Date.now() + STALE_LOCK_MS;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      if (fs.existsSync(done)) return { ok: true, bin: binPath, version };
      const age =
        Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > STALE_LOCK_MS || Date.now() > deadline)
        fs.rmSync(lock, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    if (fs.existsSync(done)) return { ok: true, bin: binPath, version };
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), '{"private": true}\n');
    await run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--no-save', '--loglevel=error', `${pkg}@${version}`],
      { cwd: dir, timeout: INSTALL_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
    );
    if (!fs.existsSync(binPath))
      return { ok: false, reason: `${pkg}@${version} installed without a ${bin} binary` };
    fs.writeFileSync(done, `${new Date().toISOString()}\n`);
    return { ok: true, bin: binPath, version };
  } catch (error) {
    const message =
      (error as { stderr?: string; message: string }).stderr || (error as Error).message;
    return {
      ok: false,
      reason: `npm install ${pkg}@${version} failed: ${message.trim().slice(0, 500)}`,
    };
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * An end-to-end suite with a real agent CLI: the CLI installed (or the reason it could not be),
 * `describe` (or `describe.skip`, loudly, with the reason in the title and a warning: never a
 * silent pass) and the suite's title.
 */
export async function agentCliSuite(name: AgentCliName, label: string, file: string) {
  const installed = await installAgentCli(name);
  if (!installed.ok)
    console.warn(`SKIPPED ${file}: the ${label} CLI is not installed: ${installed.reason}`);
  const suite = installed.ok
    ? describe
    : (describe.skip.bind(describe) as unknown as typeof describe);
  const title = installed.ok
    ? `a task run by the real ${label} CLI ${installed.version} through the gateway (issue 15)`
    : `SKIPPED (${label} CLI not installed: ${installed.reason})`;
  return { installed, suite, title };
}
