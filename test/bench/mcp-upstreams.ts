/**
 * mcp-bench.ts's servers besides the gateway: the HTTP echo server, the integrations folder and
 * policy that put it and the stdio echo command behind the gateway, and `mcp-proxy` (npm,
 * installed on first use into .cache/bench/) in front of the same stdio command.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { descendants, freePort } from '../helpers/processes.ts';
import { connectClient } from './load.ts';
import { logTail, type Proc, type Processes, REPO, until } from './processes.ts';

export const CACHE = path.join(REPO, '.cache/bench');
export const MCP_PROXY_VERSION = '6.7.19';
const MCP_PROXY_BIN = path.join(CACHE, 'node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs');
const ECHO_STDIO = path.join(REPO, 'test/bench/fixtures/echo-stdio.mjs');
const ECHO_HTTP = path.join(REPO, 'test/bench/fixtures/echo-http.mjs');
/** The one stdio command both the gateway and mcp-proxy run. */
const STDIO_COMMAND = ['node', ECHO_STDIO];

export function ensureMcpProxy(): void {
  if (fs.existsSync(MCP_PROXY_BIN)) return;
  process.stderr.write(`installing mcp-proxy@${MCP_PROXY_VERSION} into ${CACHE}\n`);
  fs.mkdirSync(CACHE, { recursive: true });
  execFileSync(
    'npm',
    [
      'install',
      '--no-save',
      '--no-audit',
      '--no-fund',
      '--prefix',
      CACHE,
      `mcp-proxy@${MCP_PROXY_VERSION}`,
    ],
    { stdio: 'inherit' },
  );
}

export async function startHttpUpstream(processes: Processes): Promise<{ proc: Proc; url: URL }> {
  const proc = processes.launch(
    'echo-http',
    [ECHO_HTTP],
    { PATH: process.env.PATH },
    {
      pipeStdout: true,
    },
  );
  const url = await new Promise<URL>((resolve, reject) => {
    let out = '';
    proc.child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk;
      const match = /listening (\S+)/.exec(out);
      if (match) resolve(new URL(match[1]!));
    });
    proc.child.once('exit', (code) => reject(new Error(`echo-http exited ${code}`)));
  });
  proc.child.stdout?.resume();
  return { proc, url };
}

/** `benchstdio` (the stdio command) and `benchhttp` (the HTTP echo server), both enabled. */
export function writeIntegrations(workDir: string, httpUrl: URL): { dirs: string; policy: string } {
  const root = path.join(workDir, 'integrations');
  const manifest = (name: string, server: Record<string, unknown>) => {
    fs.mkdirSync(path.join(root, name), { recursive: true });
    fs.writeFileSync(
      path.join(root, name, 'switchboard.yaml'),
      stringify({
        apiVersion: 'switchboard/v1',
        name,
        version: '1.0.0',
        description: `Bench echo server (${server.transport})`,
        server,
      }),
    );
  };
  const [command, ...args] = STDIO_COMMAND;
  manifest('benchstdio', { transport: 'stdio', command, args });
  manifest('benchhttp', { transport: 'http', url: httpUrl.toString() });
  const policy = path.join(workDir, 'policy.yaml');
  // Every check a call passes is on: the per-task rate limit too (in the database on
  // PostgreSQL), set far above what a client of the bench can send so that it never refuses.
  const rateLimit = { requestsPerMinute: 10_000_000 };
  fs.writeFileSync(
    policy,
    stringify({
      apiVersion: 'switchboard/policy/v1',
      integrations: {
        benchstdio: { enabled: true, rateLimit },
        benchhttp: { enabled: true, allowUrls: [httpUrl.origin], rateLimit },
      },
      tokens: { defaultTtl: '2h', maxTtl: '2h' },
    }),
  );
  return { dirs: root, policy };
}

export async function startMcpProxy(
  processes: Processes,
  o: { profileDir: string | undefined; proxyArgs: string[] },
): Promise<{ proc: Proc; url: URL }> {
  const port = await freePort();
  const proc = processes.launch(
    'mcp-proxy',
    [
      ...(o.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`] : []),
      MCP_PROXY_BIN,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--server',
      'stream',
      ...o.proxyArgs,
      '--',
      ...STDIO_COMMAND,
    ],
    { PATH: process.env.PATH, HOME: process.env.HOME },
  );
  const url = new URL(`http://127.0.0.1:${port}/mcp`);
  await until('mcp-proxy', 60_000, async () => {
    if (proc.child.exitCode !== null) throw new Error(`mcp-proxy exited: ${logTail(proc)}`);
    const client = await connectClient('raw', { url, tool: 'echo' }, 'probe');
    await client.call();
    await client.close();
    return true;
  });
  return { proc, url };
}

/** The stdio echo server a gateway or mcp-proxy started: the upstream whose CPU is measured. */
export function stdioChildOf(pid: number): number | undefined {
  for (const child of descendants(pid)) {
    try {
      if (fs.readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('echo-stdio.mjs'))
        return child;
    } catch {}
  }
  return undefined;
}
