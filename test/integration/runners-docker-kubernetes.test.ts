import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { buildBundle } from '../../gateway/src/runners/bundle.ts';
import { DOCKER_LIMITS, DockerRunner } from '../../gateway/src/runners/docker.ts';
import { bundleFiles, writeBundle } from '../../gateway/src/runners/files.ts';
import { KubernetesRunner } from '../../gateway/src/runners/kubernetes.ts';
import type { KubernetesObject } from '../../gateway/src/runners/kubernetes-manifest.ts';
import type { OutputLine, RunRequest } from '../../gateway/src/runners/runner.ts';
import { REPO_ROOT } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/processes.ts';

// The docker and kubernetes runners (issue 5). No Docker engine or cluster exists on the test
// machine, so both run against fake `docker` / `kubectl` executables
// (test/fixtures/fake-bin/) put first on PATH: they record their argv, stdin and environment
// to a file and answer like the real tools. The tests check the exact argv and manifests.
const FAKE_BIN = path.join(REPO_ROOT, 'test/fixtures/fake-bin');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-fake-bin-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 5 }));

const bundle = buildBundle({
  publicUrl: 'http://gw.internal:8080',
  taskId: 'T_42',
  sessionId: 'github:acme/api',
  token: 'tok-mcp-SECRET',
  integrations: [
    { name: 'github', url: 'http://gw.internal:8080/mcp/github', token: 'tok-gh-SECRET' },
  ],
  switchboardServer: { url: 'http://gw.internal:8080/mcp/switchboard', token: 'tok-sb-SECRET' },
});

interface Call {
  tool: string;
  argv: string[];
  stdin: string;
  env: Record<string, string>;
}
let state: string;
const calls = (): Call[] =>
  fs.existsSync(path.join(state, 'calls.jsonl'))
    ? fs
        .readFileSync(path.join(state, 'calls.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as Call];
          } catch {
            return []; // a line the fake is still writing
          }
        })
    : [];

beforeEach(() => {
  state = fs.mkdtempSync(path.join(tmp, 'state-'));
});

/** The gateway's environment; the fakes' knobs go to $HOME/fake.json (HOME reaches the CLI). */
function hostEnv(knobs: Record<string, unknown> = {}): NodeJS.ProcessEnv {
  fs.writeFileSync(path.join(state, 'fake.json'), JSON.stringify(knobs));
  return {
    PATH: `${FAKE_BIN}:${process.env.PATH}`,
    HOME: state,
    DOCKER_HOST: 'unix:///run/docker.sock',
    KUBECONFIG: '/etc/kube/config',
    DATABASE_URL: 'postgres://secret@db/prod',
    SWITCHBOARD_MASTER_KEY: 'master-key-secret',
  };
}

async function request(overrides: Partial<RunRequest> = {}) {
  const lines: OutputLine[] = [];
  const req: RunRequest = {
    prompt: 'review "PR" #42; $(id)',
    bundle,
    workdir: await writeBundle(bundle, tmp),
    timeoutMs: 600_000,
    onLine: (line) => lines.push(line),
    ...overrides,
  };
  return { req, lines };
}

/** Every credential in these tests ends in -SECRET. */
const SECRETS = /-SECRET/;

describe('DockerRunner (fake docker on PATH)', () => {
  const config = {
    driver: 'docker' as const,
    image: 'ghcr.io/acme/agent:1.4',
    command: 'claude',
    args: ['-p', '{prompt}', '--mcp-config', '{mcp_json}'],
    env: { ANTHROPIC_API_KEY: 'profile-SECRET' },
    network: 'switchboard',
  };

  it('runs the exact docker run argv, with tokens passed by name only', async () => {
    const { req, lines } = await request();
    const runner = new DockerRunner(config, {
      hostEnv: hostEnv({ OUTPUT: 'hello|world' }),
      user: '1000:1000',
    });
    const result = await runner.run(req);
    expect(result).toEqual({
      reason: 'exited',
      exitCode: 0,
      signal: null,
      stdoutTail: 'hello\nworld',
    });
    expect(lines).toEqual([
      { stream: 'stdout', line: 'hello' },
      { stream: 'stdout', line: 'world' },
    ]);
    const [run] = calls();
    expect(run!.argv).toEqual([
      'run',
      '--rm',
      '--name',
      'switchboard-task-t-42',
      '--label',
      'switchboard.task=T_42',
      '--label',
      'switchboard.session=github:acme/api',
      '--network',
      'switchboard',
      '--memory',
      DOCKER_LIMITS.memory,
      '--cpus',
      DOCKER_LIMITS.cpus,
      '--pids-limit',
      DOCKER_LIMITS.pidsLimit,
      '--user',
      '1000:1000',
      '--workdir',
      '/workspace',
      '--volume',
      `${req.workdir}:/workspace`,
      '--env',
      'HOME=/workspace',
      '--env',
      'LANG=C.UTF-8',
      '--env',
      'ANTHROPIC_API_KEY',
      '--env',
      'SWITCHBOARD_URL',
      '--env',
      'SWITCHBOARD_MCP_URL',
      '--env',
      'SWITCHBOARD_TOKEN',
      '--env',
      'SWITCHBOARD_TASK_ID',
      '--env',
      'SWITCHBOARD_SESSION_ID',
      '--env',
      'SWITCHBOARD_TOKEN_SWITCHBOARD',
      '--env',
      'SWITCHBOARD_TOKEN_GITHUB',
      'ghcr.io/acme/agent:1.4',
      'claude',
      '-p',
      'review "PR" #42; $(id)',
      '--mcp-config',
      '/workspace/.mcp.json',
    ]);
    expect(run!.argv.join(' ')).not.toMatch(SECRETS);
    // `-e NAME` takes the value from the CLI's environment: the values are there, nothing else.
    expect(run!.env).toEqual({
      PATH: `${FAKE_BIN}:${process.env.PATH}`,
      HOME: state,
      KUBECONFIG: '/etc/kube/config',
      DOCKER_HOST: 'unix:///run/docker.sock',
      ANTHROPIC_API_KEY: 'profile-SECRET',
      SWITCHBOARD_URL: 'http://gw.internal:8080',
      SWITCHBOARD_MCP_URL: 'http://gw.internal:8080/mcp',
      SWITCHBOARD_TOKEN: 'tok-mcp-SECRET',
      SWITCHBOARD_TASK_ID: 'T_42',
      SWITCHBOARD_SESSION_ID: 'github:acme/api',
      SWITCHBOARD_TOKEN_SWITCHBOARD: 'tok-sb-SECRET',
      SWITCHBOARD_TOKEN_GITHUB: 'tok-gh-SECRET',
    });
  });

  it('on timeout runs docker kill <name>', async () => {
    const { req } = await request({ timeoutMs: 1_000 });
    const runner = new DockerRunner(config, { hostEnv: hostEnv({ HANG: true }) });
    const result = await runner.run(req);
    expect(result.reason).toBe('timeout');
    const kill = calls().find((c) => c.argv[0] === 'kill');
    expect(kill?.argv).toEqual(['kill', 'switchboard-task-t-42']);
    expect(kill?.env.DATABASE_URL).toBeUndefined();
  });

  it('on cancel runs docker kill <name>', async () => {
    const controller = new AbortController();
    const { req } = await request({ signal: controller.signal });
    const runner = new DockerRunner(config, { hostEnv: hostEnv({ HANG: true }) });
    const running = runner.run(req);
    await waitFor(() => calls().some((c) => c.argv[0] === 'run'));
    controller.abort();
    expect((await running).reason).toBe('cancelled');
    expect(calls().map((c) => c.argv[0])).toEqual(['run', 'kill']);
  });

  it('stdin: prompt runs docker run --interactive with the prompt on stdin; prompt.txt is mounted', async () => {
    const { req } = await request();
    const runner = new DockerRunner(
      { ...config, args: ['--prompt-file', '{prompt_file}'], stdin: 'prompt' },
      { hostEnv: hostEnv(), user: '1000:1000' },
    );
    // An agent's context files (runners/context-files.ts) go into the mounted folder too.
    const files = [{ path: '.claude/CLAUDE.md', key: 'context-0', content: 'PREAMBLE' }];
    expect((await runner.run({ ...req, files })).reason).toBe('exited');
    expect(fs.readFileSync(path.join(req.workdir, '.claude/CLAUDE.md'), 'utf8')).toBe('PREAMBLE');
    const [run] = calls();
    expect(run!.argv.slice(0, 3)).toEqual(['run', '--rm', '--interactive']);
    expect(run!.argv.slice(-3)).toEqual(['claude', '--prompt-file', '/workspace/prompt.txt']);
    expect(run!.stdin).toBe('review "PR" #42; $(id)');
    expect(fs.readFileSync(path.join(req.workdir, 'prompt.txt'), 'utf8')).toBe(
      'review "PR" #42; $(id)',
    );
    // Without it docker's stdin stays empty and closed.
    const plain = await request();
    await new DockerRunner(config, { hostEnv: hostEnv() }).run(plain.req);
    expect(calls().at(-1)!.argv).not.toContain('--interactive');
    expect(calls().at(-1)!.stdin).toBe('');
  });

  it('reports a missing docker binary', async () => {
    const { req } = await request();
    const runner = new DockerRunner(config, {
      hostEnv: { PATH: path.join(tmp, 'nothing'), HOME: tmp },
    });
    expect(await runner.run(req)).toMatchObject({
      reason: 'spawn_failed',
      error: 'could not start docker: not found on PATH (ENOENT)',
    });
  });
});

describe('KubernetesRunner (fake kubectl on PATH)', () => {
  const config = {
    driver: 'kubernetes' as const,
    image: 'ghcr.io/acme/agent:1.4',
    command: 'codex',
    args: ['exec', '{prompt}'],
    env: { OPENAI_API_KEY: 'profile-SECRET' },
    namespace: 'agents',
    serviceAccount: 'switchboard-agent',
  };
  const name = 'switchboard-task-t-42';
  const labels = {
    'app.kubernetes.io/managed-by': 'switchboard',
    'switchboard.task': 'T_42',
    'switchboard.session': 'github-acme-api',
  };
  const metadata = { name, namespace: 'agents', labels };

  it('applies Secret + ConfigMap + Job on stdin, polls, reads logs, cleans up', async () => {
    const { req, lines } = await request({ timeoutMs: 20 * 60_000 });
    const runner = new KubernetesRunner(config, {
      hostEnv: hostEnv({ POLLS: 2, OUTPUT: 'thinking|done' }),
      pollMs: 10,
    });
    const result = await runner.run(req);
    expect(result).toEqual({
      reason: 'exited',
      exitCode: 0,
      signal: null,
      stdoutTail: 'thinking\ndone',
    });
    expect(lines.map((l) => l.line)).toEqual(['thinking', 'done']);
    const all = calls();
    expect(all.map((c) => c.argv)).toEqual([
      ['apply', '-f', '-', '--namespace', 'agents'],
      ['get', 'job', name, '-o', 'json', '--namespace', 'agents'],
      ['get', 'job', name, '-o', 'json', '--namespace', 'agents'],
      ['get', 'job', name, '-o', 'json', '--namespace', 'agents'],
      ['logs', `job/${name}`, '--all-containers', '--namespace', 'agents'],
      [
        'delete',
        'job,secret,configmap',
        name,
        '--ignore-not-found',
        '--wait=false',
        '--namespace',
        'agents',
      ],
    ]);
    for (const call of all) {
      expect(call.argv.join(' ')).not.toMatch(SECRETS);
      expect(call.env.DATABASE_URL).toBeUndefined();
      expect(call.env.SWITCHBOARD_MASTER_KEY).toBeUndefined();
      expect(call.env.KUBECONFIG).toBe('/etc/kube/config');
    }

    const list = JSON.parse(all[0]!.stdin) as {
      apiVersion: string;
      kind: string;
      items: KubernetesObject[];
    };
    expect(list.apiVersion).toBe('v1');
    expect(list.kind).toBe('List');
    const [secret, configMap, job] = list.items;
    const files = Object.fromEntries(bundleFiles(bundle).map((f) => [f.key, f.content]));
    expect(secret).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata,
      type: 'Opaque',
      stringData: {
        OPENAI_API_KEY: 'profile-SECRET',
        SWITCHBOARD_TOKEN: 'tok-mcp-SECRET',
        SWITCHBOARD_TOKEN_SWITCHBOARD: 'tok-sb-SECRET',
        SWITCHBOARD_TOKEN_GITHUB: 'tok-gh-SECRET',
      },
    });
    expect(configMap).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata,
      data: {
        'mcp.json': files['mcp.json'],
        'codex-config.toml': files['codex-config.toml'],
        'cursor-mcp.json': files['cursor-mcp.json'],
        'goose-config.yaml': files['goose-config.yaml'],
        'switchboard.json': files['switchboard.json'],
        'prompt.txt': 'review "PR" #42; $(id)',
      },
    });
    expect(JSON.stringify(configMap)).not.toMatch(SECRETS);
    const fromSecret = (key: string) => ({ name: key, valueFrom: { secretKeyRef: { name, key } } });
    expect(job).toEqual({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata,
      spec: {
        backoffLimit: 0,
        activeDeadlineSeconds: 1200,
        ttlSecondsAfterFinished: 3600,
        template: {
          metadata: { labels },
          spec: {
            restartPolicy: 'Never',
            serviceAccountName: 'switchboard-agent',
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 1000,
              runAsGroup: 1000,
              fsGroup: 1000,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            containers: [
              {
                name: 'agent',
                image: 'ghcr.io/acme/agent:1.4',
                command: ['codex'],
                args: ['exec', 'review "PR" #42; $(id)'],
                workingDir: '/workspace',
                env: [
                  { name: 'HOME', value: '/workspace' },
                  { name: 'LANG', value: 'C.UTF-8' },
                  fromSecret('OPENAI_API_KEY'),
                  { name: 'SWITCHBOARD_URL', value: 'http://gw.internal:8080' },
                  { name: 'SWITCHBOARD_MCP_URL', value: 'http://gw.internal:8080/mcp' },
                  fromSecret('SWITCHBOARD_TOKEN'),
                  { name: 'SWITCHBOARD_TASK_ID', value: 'T_42' },
                  { name: 'SWITCHBOARD_SESSION_ID', value: 'github:acme/api' },
                  fromSecret('SWITCHBOARD_TOKEN_SWITCHBOARD'),
                  fromSecret('SWITCHBOARD_TOKEN_GITHUB'),
                ],
                resources: {
                  requests: { cpu: '250m', memory: '512Mi' },
                  limits: { cpu: '1', memory: '2Gi' },
                },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  capabilities: { drop: ['ALL'] },
                },
                volumeMounts: [
                  { name: 'workspace', mountPath: '/workspace' },
                  ...[
                    '.mcp.json',
                    '.codex/config.toml',
                    '.cursor/mcp.json',
                    '.config/goose/config.yaml',
                    'switchboard.json',
                    'prompt.txt',
                  ].map((p) => ({
                    name: 'bundle',
                    mountPath: `/workspace/${p}`,
                    subPath: p,
                    readOnly: true,
                  })),
                ],
              },
            ],
            volumes: [
              { name: 'workspace', emptyDir: {} },
              {
                name: 'bundle',
                projected: {
                  sources: [
                    {
                      configMap: {
                        name,
                        items: [
                          { key: 'mcp.json', path: '.mcp.json' },
                          { key: 'codex-config.toml', path: '.codex/config.toml' },
                          { key: 'cursor-mcp.json', path: '.cursor/mcp.json' },
                          { key: 'goose-config.yaml', path: '.config/goose/config.yaml' },
                          { key: 'switchboard.json', path: 'switchboard.json' },
                          { key: 'prompt.txt', path: 'prompt.txt' },
                        ],
                      },
                    },
                  ],
                },
              },
            ],
          },
        },
      },
    });
  });

  it('a Job failed by its deadline is a timeout; a failed one reports the pod exit code', async () => {
    const { req } = await request();
    const timedOut = await new KubernetesRunner(config, {
      hostEnv: hostEnv({ FAIL_REASON: 'DeadlineExceeded', EXIT: 137 }),
      pollMs: 10,
    }).run(req);
    expect(timedOut).toMatchObject({ reason: 'timeout', exitCode: 137 });
    state = fs.mkdtempSync(path.join(tmp, 'state-'));
    const failed = await new KubernetesRunner(config, {
      hostEnv: hostEnv({ FAIL_REASON: 'BackoffLimitExceeded', EXIT: 3 }),
      pollMs: 10,
    }).run(req);
    expect(failed).toMatchObject({ reason: 'exited', exitCode: 3 });
    expect(calls().map((c) => c.argv[0])).toContain('delete');
  });

  it('cancel deletes the Job, its Secret and ConfigMap', async () => {
    const controller = new AbortController();
    const { req } = await request({ signal: controller.signal });
    const running = new KubernetesRunner(config, {
      hostEnv: hostEnv({ POLLS: 1_000_000 }),
      pollMs: 10,
    }).run(req);
    await waitFor(() => calls().some((c) => c.argv[0] === 'get'));
    controller.abort();
    expect((await running).reason).toBe('cancelled');
    expect(calls().at(-1)!.argv.slice(0, 3)).toEqual(['delete', 'job,secret,configmap', name]);
  });

  it('an apply the cluster refuses is spawn_failed with kubectl’s message, and cleaned up', async () => {
    const { req } = await request();
    const result = await new KubernetesRunner(config, {
      hostEnv: hostEnv({ APPLY_ERROR: 'error: namespaces "agents" not found' }),
    }).run(req);
    expect(result).toMatchObject({
      reason: 'spawn_failed',
      error: 'kubectl apply failed: error: namespaces "agents" not found',
    });
    expect(calls().map((c) => c.argv[0])).toEqual(['apply', 'delete']);
  });

  it('without a service account the pod gets no cluster API token', async () => {
    const { serviceAccount, namespace, ...rest } = config;
    const { req } = await request();
    await new KubernetesRunner(rest, { hostEnv: hostEnv(), pollMs: 10 }).run(req);
    const [apply] = calls();
    expect(apply!.argv).toEqual(['apply', '-f', '-']);
    const job = (JSON.parse(apply!.stdin) as { items: KubernetesObject[] }).items[2]!;
    expect(job.metadata.namespace).toBeUndefined();
    expect(JSON.stringify(job)).toContain('"automountServiceAccountToken":false');
    expect(JSON.stringify(job)).not.toContain('serviceAccountName');
  });
});
