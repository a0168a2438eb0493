import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../../gateway/src/runners/bundle.ts';
import { DockerRunner } from '../../gateway/src/runners/docker.ts';
import { writeBundle } from '../../gateway/src/runners/files.ts';
import { jobManifest } from '../../gateway/src/runners/kubernetes-manifest.ts';
import { ProcessRunner } from '../../gateway/src/runners/process.ts';
import type { RunRequest } from '../../gateway/src/runners/runner.ts';
import { REPO_ROOT } from '../helpers/gateway.ts';
import { type K8sObject, validate } from '../helpers/kustomize.ts';

// Attack: the task prompt comes from whoever can start a task (a webhook's issue text, a chat
// message). Placed in an agent's argv by `{prompt}`, a prompt that starts with `-` would be
// parsed as one of the agent CLI's own options (`--dangerously-skip-permissions`). A real
// process runner starts a fake agent that parses its argv like a CLI and records what it got.
const AGENT = path.join(REPO_ROOT, 'test/fixtures/runners/argv-agent.mjs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-runner-attack-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const bundle = buildBundle({
  publicUrl: 'http://127.0.0.1:8080',
  taskId: 'task-attack',
  sessionId: 'session-1',
  token: 'tok-mcp',
  integrations: [],
  switchboardServer: { url: 'http://127.0.0.1:8080/mcp/switchboard', token: 'tok-sb' },
});

const HOSTILE = '--dangerously-skip-permissions';

interface Seen {
  argv: string[];
  options: Record<string, unknown>;
  positionals: string[];
  stdin: string;
  promptFile: string | null;
}

async function runAgent(
  args: string[],
  prompt: string,
  extra: { stdin?: 'none' | 'prompt' } = {},
): Promise<Seen> {
  const out = path.join(tmp, `seen-${Math.random().toString(36).slice(2)}.json`);
  const runner = new ProcessRunner(
    {
      driver: 'process',
      command: process.execPath,
      args: [AGENT, ...args],
      env: { ARGV_OUT: out },
      ...extra,
    },
    { hostEnv: { PATH: process.env.PATH } },
  );
  const workdir = await writeBundle(bundle, tmp);
  const request: RunRequest = { prompt, bundle, workdir, timeoutMs: 30_000, onLine: () => {} };
  const result = await runner.run(request);
  expect(result, JSON.stringify(result)).toMatchObject({ reason: 'exited', exitCode: 0 });
  return JSON.parse(fs.readFileSync(out, 'utf8')) as Seen;
}

describe('a hostile prompt on the agent command line', () => {
  it('{prompt} alone: a prompt starting with -- never arrives as an option', async () => {
    const seen = await runAgent(['{prompt}'], HOSTILE);
    expect(seen.options).toEqual({});
    expect(seen.argv.some((a) => a.startsWith('-'))).toBe(false);
    expect(seen.positionals).toHaveLength(1);
    expect(seen.positionals[0]!.trim()).toBe(HOSTILE);
  });

  it('after an option that takes no value (-p {prompt}), and for a single dash', async () => {
    const seen = await runAgent(['-p', '{prompt}'], HOSTILE);
    expect(seen.options).toEqual({ p: true });
    expect(seen.positionals.map((p) => p.trim())).toEqual([HOSTILE]);
    const short = await runAgent(['{prompt}'], '-rf');
    expect(short.options).toEqual({});
    expect(short.positionals.map((p) => p.trim())).toEqual(['-rf']);
  });

  it('after a profile `--` the prompt arrives unchanged, as an operand', async () => {
    const seen = await runAgent(['--', '{prompt}'], HOSTILE);
    expect(seen.options).toEqual({});
    expect(seen.positionals).toEqual([HOSTILE]);
  });

  it('inside an option of the profile (--prompt={prompt}) it stays that option’s value', async () => {
    const seen = await runAgent(['--prompt={prompt}'], HOSTILE);
    expect(seen.options).toEqual({ prompt: HOSTILE });
    expect(seen.positionals).toEqual([]);
  });

  it('{prompt_file} and stdin: prompt hand the prompt over outside argv, verbatim', async () => {
    const viaFile = await runAgent(['--prompt-file', '{prompt_file}'], HOSTILE);
    expect(viaFile.options).toEqual({ 'prompt-file': true });
    expect(viaFile.positionals).toHaveLength(1);
    expect(viaFile.positionals[0]).toMatch(/prompt\.txt$/);
    expect(fs.readFileSync(viaFile.positionals[0]!, 'utf8')).toBe(HOSTILE);
    expect(viaFile.promptFile).toBe(HOSTILE);
    const viaStdin = await runAgent([], HOSTILE, { stdin: 'prompt' });
    expect(viaStdin).toMatchObject({ argv: [], options: {}, stdin: HOSTILE });
    // Without `stdin: prompt` the agent's stdin is empty.
    expect((await runAgent([], HOSTILE)).stdin).toBe('');
  });

  it('docker and kubernetes: the container command line gets the same treatment', async () => {
    const request = {
      prompt: HOSTILE,
      bundle,
      workdir: path.join(tmp, 'w'),
      timeoutMs: 60_000,
      onLine: () => {},
    };
    const docker = new DockerRunner(
      { driver: 'docker', image: 'agent:1', args: ['{prompt}'] },
      { hostEnv: { PATH: process.env.PATH } },
    ).plan(request);
    const afterImage = docker.argv.slice(docker.argv.indexOf('agent:1') + 1);
    expect(afterImage.map((a) => a.trim())).toEqual([HOSTILE]);
    expect(afterImage.some((a) => a.startsWith('-'))).toBe(false);
    const { list } = jobManifest(
      { driver: 'kubernetes', image: 'agent:1', args: ['{prompt}'] },
      request,
    );
    const job = list.items.find((i) => i.kind === 'Job') as unknown as {
      spec: { template: { spec: { containers: Array<{ args: string[] }> } } };
    };
    const args = job.spec.template.spec.containers[0]!.args;
    expect(args.map((a) => a.trim())).toEqual([HOSTILE]);
    expect(args.some((a) => a.startsWith('-'))).toBe(false);
  });
});

describe('kubernetes runner: the agent pod runs restricted', () => {
  // Attack: an agent driven by a hostile model runs code in its pod. As root, with the
  // container's default capabilities, it could use setuid binaries of the image or the kernel's
  // capability-gated calls; the docker runner already runs it as a non-root --user.
  it('runs as non-root with no privilege escalation and no capabilities, and validates against the API schemas', async () => {
    const { list } = jobManifest(
      { driver: 'kubernetes', image: 'agent:1', args: ['{prompt}'] },
      { prompt: 'p', bundle, timeoutMs: 60_000 },
    );
    const job = list.items.find((i) => i.kind === 'Job') as unknown as K8sObject & {
      spec: {
        template: {
          spec: {
            securityContext: Record<string, unknown>;
            containers: Array<{ securityContext: Record<string, unknown> }>;
          };
        };
      };
    };
    const pod = job.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(pod.securityContext.runAsUser).not.toBe(0);
    expect(pod.containers[0]!.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    // Every object of the List is one the API server accepts (kubernetes-models' schemas).
    for (const item of list.items) await validate(item as unknown as K8sObject);
  });
});
