/**
 * MCP tasks (SEP-2663) over real HTTP against real gateway processes: the servers/fixture
 * integration copied alone (its built dist/ with it) into an integrations root under
 * test/fixtures/.generated-*, where it finds the repository's node_modules, a policy enabling it, external tasks granted by the API, and a
 * raw 2026-07-28 JSON-RPC client. Raw on purpose: the SDK v2 client refuses to send tasks/get
 * toward a 2026-07-28 peer (MethodNotSupportedByProtocolVersion), the extension's methods
 * being no core method of that era.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { ADMIN_KEY, REPO_ROOT } from './gateway.ts';
import { type GatewayProcess, listenUrl, startGatewayProcess } from './gateway-process.ts';
import { startHttpFront } from './round-robin.ts';

export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';
export const MASTER_KEY = '6b'.repeat(32);

type Json = Record<string, unknown>;

/** An integrations root holding a copy of servers/fixture, and a policy enabling it. */
export function fixtureRoot(
  name: string,
  options: { startDelaySec?: number } = {},
): { root: string; policy: string; remove(): void } {
  const root = path.join(REPO_ROOT, 'test/fixtures', `.generated-mcp-tasks-${name}-${process.pid}`);
  fs.rmSync(root, { recursive: true, force: true });
  const dir = path.join(root, 'integrations/fixture');
  fs.cpSync(path.join(REPO_ROOT, 'servers/fixture'), dir, {
    recursive: true,
    filter: (source) => path.basename(source) !== 'node_modules',
  });
  if (options.startDelaySec !== undefined) {
    // A server that takes this long to start: the gateway's integration stays `starting` so long.
    const manifest = path.join(dir, 'switchboard.yaml');
    const text = fs.readFileSync(manifest, 'utf8');
    const slow = text.replace(
      /command: node\n\s*args: \["--enable-source-maps", "dist\/server.js"\]/,
      `command: sh\n  args: ["-c", "sleep ${options.startDelaySec} && exec node dist/server.js"]`,
    );
    if (slow === text)
      throw new Error('fixtureRoot: the fixture manifest changed; update startDelaySec');
    fs.writeFileSync(manifest, slow);
  }
  const policy = path.join(root, 'policy.yaml');
  fs.writeFileSync(
    policy,
    [
      'apiVersion: switchboard/policy/v1',
      'integrations:',
      '  fixture: { enabled: true, grants: [] }',
      'tokens: { defaultTtl: 1h, maxTtl: 2h, maxInFlight: 200 }',
      '',
    ].join('\n'),
  );
  return {
    root: path.join(root, 'integrations'),
    policy,
    remove: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

/**
 * One public URL in front of several gateway processes (their tokens name it as issuer and
 * audience, and a loopback public URL admits only its own Host): each request goes to the backend
 * its URL names after `#` (front.via), so a test picks the replica it talks to.
 */
export async function startFront() {
  const front = await startHttpFront((req) => String(req.headers['x-test-backend']));
  return { ...front, via: (backend: string) => `${front.url}#${backend}` };
}

/**
 * The gateway processes of one describe block behind one public URL (startFront): every token
 * names that URL, so each process honours the others'. `start(extra)` adds `extra` to `env()`;
 * `at(gw)` is the URL that reaches `gw` through the front. All stopped after the block.
 */
export function frontedGateways(env: () => Record<string, string>) {
  const started: GatewayProcess[] = [];
  let front: Awaited<ReturnType<typeof startFront>> | undefined;
  beforeAll(async () => {
    front = await startFront();
  });
  afterAll(async () => {
    for (const gw of started.reverse()) await gw.cleanup();
    await front?.close();
  });
  const opened = () => {
    if (!front) throw new Error('frontedGateways: used outside its describe block');
    return front;
  };
  return {
    front: opened,
    at: (gw: GatewayProcess) => opened().via(listenUrl(gw)),
    start: async (extra: Record<string, string> = {}) => {
      const gw = await startGatewayProcess({
        ...env(),
        SWITCHBOARD_PUBLIC_URL: opened().url,
        ...extra,
      });
      started.push(gw);
      return gw;
    },
  };
}

/** The URL to fetch and the headers that pick its backend (see startFront). */
function target(url: string): { base: string; headers: Record<string, string> } {
  const [base, backend] = url.split('#') as [string, string | undefined];
  return { base, headers: backend ? { 'x-test-backend': backend } : {} };
}

export async function api(url: string, method: string, route: string, body?: unknown) {
  const { base, headers } = target(url);
  const res = await fetch(`${base}/api/v1${route}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_KEY}`,
      'content-type': 'application/json',
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Json };
}

export async function fixtureReady(url: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const { json } = await api(url, 'GET', '/integrations/fixture');
    const state = (json.integration as Json | undefined)?.state ?? json.state;
    if (state === 'ready') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the fixture integration did not become ready');
}

/** An external agent task granted `scope`, and its /mcp token. */
export async function grantTask(url: string, scope = ['fixture:*']) {
  const created = await api(url, 'POST', '/tasks', { external: true, scope });
  expect(created.status, JSON.stringify(created.json)).toBe(201);
  return {
    id: (created.json.task as { id: string }).id,
    token: (created.json.mcp as { token: string }).token,
  };
}

export interface RpcAnswer {
  status: number;
  result?: Json;
  error?: { code: number; message: string; data?: Json };
}

let nextId = 1;

/** One 2026-07-28 JSON-RPC request to `<url>/mcp` (names `fixture__<tool>`). */
export async function rpc(
  url: string,
  token: string,
  method: string,
  params: Json,
  options: { tasks?: boolean } = {},
): Promise<RpcAnswer> {
  const capabilities = options.tasks === false ? {} : { extensions: { [TASKS_EXTENSION]: {} } };
  const name = method === 'tools/call' ? params.name : params.taskId;
  const { base, headers } = target(url);
  const res = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: {
      ...headers,
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': method,
      ...(typeof name === 'string' && { 'mcp-name': name }),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: nextId++,
      method,
      params: {
        ...params,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientInfo': { name: 'mcp-tasks-test', version: '1.0.0' },
          'io.modelcontextprotocol/clientCapabilities': { elicitation: {}, ...capabilities },
        },
      },
    }),
  });
  const text = await res.text();
  const body = (res.headers.get('content-type') ?? '').includes('text/event-stream')
    ? JSON.parse(
        text
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5))
          .filter((l) => l.includes('"id"'))
          .pop() ?? '{}',
      )
    : text
      ? JSON.parse(text)
      : {};
  return { status: res.status, result: body.result, error: body.error };
}

/** tools/call of `fixture__<tool>`: its CreateTaskResult's taskId. */
export async function createTask(url: string, token: string, tool: string, args: Json = {}) {
  const answer = await rpc(url, token, 'tools/call', { name: `fixture__${tool}`, arguments: args });
  expect(answer.result?.resultType, JSON.stringify(answer)).toBe('task');
  return answer.result?.taskId as string;
}

export async function getTask(url: string, token: string, taskId: string): Promise<RpcAnswer> {
  return rpc(url, token, 'tasks/get', { taskId });
}

const TERMINAL = ['completed', 'failed', 'cancelled'];

/** Polls tasks/get until the task is in `until` (default: any terminal status). */
export async function settle(
  url: string,
  token: string,
  taskId: string,
  until: string[] = TERMINAL,
  timeoutMs = 60_000,
): Promise<Json> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await getTask(url, token, taskId);
    if (got.status !== 200 || got.error) throw new Error(`task ${taskId}: ${JSON.stringify(got)}`);
    const status = got.result?.status as string | undefined;
    if (status && until.includes(status)) return got.result as Json;
    if (Date.now() > deadline) throw new Error(`task ${taskId}: ${JSON.stringify(got)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}
