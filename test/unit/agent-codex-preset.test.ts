/**
 * The Codex preset (presets/codex.ts) and its image (agents/codex/Dockerfile), checked by what
 * they say: the real CLI runs them in test/integration/agent-codex.test.ts; there is no Docker
 * engine here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { codexPreset } from '../../gateway/src/runners/presets/codex.ts';
import { checkArgs } from '../../gateway/src/runners/runner.ts';
import { AGENT_CLIS } from '../helpers/agent-clis.ts';
import { REPO_ROOT } from '../helpers/gateway.ts';

/** Dockerfile instructions in order: comments dropped, `\` continuations joined. */
function instructions(file: string): Array<{ op: string; args: string }> {
  const out: Array<{ op: string; args: string }> = [];
  let pending = '';
  for (const raw of fs.readFileSync(path.join(REPO_ROOT, file), 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    pending += `${line.replace(/\\$/, '').trim()} `;
    if (line.endsWith('\\')) continue;
    const [op, ...rest] = pending.trim().split(/\s+/);
    out.push({ op: op!.toUpperCase(), args: rest.join(' ') });
    pending = '';
  }
  return out;
}

describe('the codex preset', () => {
  it('codex exec, unattended, the prompt on stdin and never in argv', () => {
    expect(codexPreset.name).toBe('codex');
    expect(codexPreset.command).toBe(AGENT_CLIS.codex.bin);
    expect(codexPreset.stdin).toBe('prompt');
    expect(codexPreset.args.slice(0, 2)).toEqual(['exec', '--json']);
    expect(codexPreset.args).toContain('--skip-git-repo-check');
    // No token or key in the environment of the shell commands the model runs (security test).
    expect(codexPreset.args).toContain('shell_environment_policy.ignore_default_excludes=false');
    // No placeholder at all: no {prompt}, and no operand that Codex would read as the prompt
    // (then stdin would be appended to it, not be it).
    expect(() => checkArgs(codexPreset.args)).not.toThrow();
    expect(codexPreset.args.join(' ')).not.toMatch(/[{}]/);
    expect(codexPreset.args).not.toContain('-');
    // Never a credential in the preset: those are the profile's.
    expect(Object.keys(codexPreset.env).join(' ')).not.toMatch(/KEY|TOKEN|SECRET/);
  });

  it('agents/codex/Dockerfile: the pinned CLI installed globally, no ENTRYPOINT, /workspace', () => {
    const steps = instructions('agents/codex/Dockerfile');
    const version = steps.find((s) => s.op === 'ARG' && s.args.startsWith('CODEX_VERSION='));
    expect(version?.args).toBe(`CODEX_VERSION=${AGENT_CLIS.codex.version}`);
    expect(
      steps.some(
        (s) =>
          s.op === 'RUN' &&
          s.args.includes('npm install -g') &&
          s.args.includes(`${AGENT_CLIS.codex.pkg}@\${CODEX_VERSION}`),
      ),
    ).toBe(true);
    // The runner's `docker run IMAGE codex …` must run codex itself.
    expect(steps.some((s) => s.op === 'ENTRYPOINT')).toBe(false);
    expect(steps.find((s) => s.op === 'WORKDIR')?.args).toBe('/workspace');
    const env = steps.find((s) => s.op === 'ENV')?.args ?? '';
    for (const [name, value] of Object.entries(codexPreset.env))
      expect(env).toContain(`${name}=${value}`);
  });
});
