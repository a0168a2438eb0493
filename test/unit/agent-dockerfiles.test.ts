import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { claudeCodePreset } from '../../gateway/src/runners/presets/claude-code.ts';
import { goosePreset } from '../../gateway/src/runners/presets/goose.ts';
import { AGENT_CLIS } from '../helpers/agent-clis.ts';
import { REPO_ROOT } from '../helpers/gateway.ts';

// agents/*/Dockerfile for the docker driver's `agent:` profiles, checked by what they say:
// there is no Docker engine here (the command line the docker runner builds from them is
// tested in test/unit/agent-presets.test.ts).

/** Instructions in order: comments dropped, `\` continuations joined. */
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

describe('agent images', () => {
  it('claude-code: the pinned CLI installed globally, no ENTRYPOINT, /workspace', () => {
    const steps = instructions('agents/claude-code/Dockerfile');
    const version = steps.find((s) => s.op === 'ARG' && s.args.startsWith('CLAUDE_CODE_VERSION='));
    expect(version?.args).toBe(`CLAUDE_CODE_VERSION=${AGENT_CLIS.claude.version}`);
    expect(
      steps.some(
        (s) =>
          s.op === 'RUN' &&
          s.args.includes(`npm install -g`) &&
          s.args.includes(`${AGENT_CLIS.claude.pkg}@\${CLAUDE_CODE_VERSION}`),
      ),
    ).toBe(true);
    // The runner's `docker run IMAGE claude …` must run claude itself.
    expect(steps.some((s) => s.op === 'ENTRYPOINT')).toBe(false);
    expect(claudeCodePreset.command).toBe(AGENT_CLIS.claude.bin);
    expect(steps.find((s) => s.op === 'WORKDIR')?.args).toBe('/workspace');
    expect(steps.find((s) => s.op === 'ENV')?.args).toContain('ENABLE_TOOL_SEARCH=false');
  });

  it('goose: the pinned npm package, a `goose` link, no ENTRYPOINT, the preset environment', () => {
    const steps = instructions('agents/goose/Dockerfile');
    expect(steps.find((s) => s.op === 'ARG')?.args).toBe(
      `GOOSE_VERSION=${AGENT_CLIS.goose.version}`,
    );
    const install = steps.find((s) => s.op === 'RUN' && s.args.includes('npm install -g'));
    expect(install?.args).toContain(`${AGENT_CLIS.goose.pkg}@\${GOOSE_VERSION}`);
    // The package's bin is not the preset's command: the link makes `goose`.
    expect(install?.args).toContain(
      `bin/${AGENT_CLIS.goose.bin}" /usr/local/bin/${goosePreset.command}`,
    );
    expect(install?.args).toContain('goose --version');
    expect(steps.some((s) => s.op === 'ENTRYPOINT')).toBe(false);
    const env = steps.find((s) => s.op === 'ENV')?.args ?? '';
    for (const [name, value] of Object.entries(goosePreset.env))
      expect(env).toContain(`${name}=${value}`);
  });
});
