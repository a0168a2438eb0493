/**
 * MCP task passthrough (gateway/src/mcp/mcp-task-upstream.ts) against real upstreams that run
 * tasks themselves: test/fixtures/task-upstreams/upstream-2026.ts (Streamable HTTP, started here
 * so it outlives a killed gateway) as integration `tasks26`, and upstream-2025.ts (stdio, SDK 1.x)
 * as `tasks25`, in an integrations root under test/fixtures/.generated-* (tsx refuses /tmp).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { REPO_ROOT } from './gateway.ts';
import { api, rpc } from './mcp-tasks.ts';

type Json = Record<string, unknown>;

export interface Upstream2026Stats {
  toolCalls: Record<string, number>;
  polls: Record<string, number>;
  pollTimes: Record<string, number[]>;
  cancels: string[];
  updates: Json[];
}

export interface Upstream2026 {
  port: number;
  child: ChildProcess;
  stats(): Promise<Upstream2026Stats>;
  stop(): Promise<void>;
}

/** upstream-2026 as its own process; resolves once it listens. */
export async function startUpstream2026(): Promise<Upstream2026> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/fixtures/task-upstreams/upstream-2026.ts'],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`upstream-2026 exited ${code}`)));
    setTimeout(() => reject(new Error('upstream-2026 did not listen within 30 s')), 30_000);
  });
  return {
    port,
    child,
    async stats() {
      const res = await fetch(`http://127.0.0.1:${port}/stats`);
      return (await res.json()) as Upstream2026Stats;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** An integrations root with `tasks26` (HTTP on `port`) and `tasks25` (stdio), and a policy. */
export function passthroughRoot(name: string, port: number) {
  const root = path.join(
    REPO_ROOT,
    'test/fixtures',
    `.generated-passthrough-${name}-${process.pid}`,
  );
  fs.rmSync(root, { recursive: true, force: true });
  const write = (file: string, lines: string[]) => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
  };
  write(path.join(root, 'integrations/tasks26/switchboard.yaml'), [
    'apiVersion: switchboard/v1',
    'name: tasks26',
    'version: 0.1.0',
    'description: Runs MCP tasks itself on the 2026-07-28 wire (test fixture)',
    `server: { transport: http, url: "http://127.0.0.1:${port}/mcp" }`,
  ]);
  const server2025 = path.join(REPO_ROOT, 'test/fixtures/task-upstreams/upstream-2025.ts');
  write(path.join(root, 'integrations/tasks25/switchboard.yaml'), [
    'apiVersion: switchboard/v1',
    'name: tasks25',
    'version: 0.1.0',
    'description: Runs MCP tasks itself on the 2025-11-25 wire (test fixture)',
    `server: { transport: stdio, command: node, args: ["--import", "tsx", "${server2025}"] }`,
  ]);
  const policy = path.join(root, 'policy.yaml');
  write(policy, [
    'apiVersion: switchboard/policy/v1',
    'integrations:',
    `  tasks26: { enabled: true, grants: [], allowUrls: ["http://127.0.0.1:${port}"] }`,
    '  tasks25: { enabled: true, grants: [] }',
    'tokens: { defaultTtl: 1h, maxTtl: 2h, maxInFlight: 200 }',
  ]);
  return {
    root: path.join(root, 'integrations'),
    policy,
    remove: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

export async function integrationsReady(url: string, names: string[]): Promise<void> {
  for (const name of names) {
    for (let i = 0; ; i++) {
      const { json } = await api(url, 'GET', `/integrations/${name}`);
      const state = (json.integration as Json | undefined)?.state ?? json.state;
      if (state === 'ready') break;
      if (i > 600 || state === 'refused')
        throw new Error(`integration ${name} did not become ready: ${JSON.stringify(json)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** tools/call of `<integration>__<tool>` as an MCP task: its taskId. */
export async function createTaskOf(url: string, token: string, name: string, args: Json = {}) {
  const answer = await rpc(url, token, 'tools/call', { name, arguments: args });
  expect(answer.result?.resultType, JSON.stringify(answer)).toBe('task');
  return answer.result?.taskId as string;
}

/** The text of a completed DetailedTask's first content block. */
export function textOf(detailed: Json): string | undefined {
  return (
    (detailed.result as Json | undefined)?.content as Array<{ text?: string }> | undefined
  )?.[0]?.text;
}
