/**
 * 2025-era clients behind a balancer with no affinity (issue 19 item 1): two real `switchboard
 * start` processes on one PostgreSQL, a real v2 SDK client speaking 2025-11-25, and the real
 * fixture server over stdio. The client's `initialize` reaches gateway A, its tools/call gateway
 * B (whose SSE stream carries the elicitation / sampling / roots request), and its reply POST
 * gateway A again: the handshake (era2025_handshakes) and the reply's hand-over
 * (client_reply_waits + NOTIFY) go through the database (gateway/src/mcp/era-2025-clients.ts,
 * client-replies.ts). A `logging/setLevel` on A is honoured by a call on B.
 *
 * The routing is the client's (a fetch wrapper naming the replica in a header, by JSON-RPC
 * method) through a small proxy in front of both: both gateways' public URL is the proxy's, so
 * both accept the Host and the token's audience, as behind a real balancer.
 *
 * On the embedded PGlite (one process) A and B are the same gateway: the same flows run, with
 * every reply delivered in that process's memory.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../gateway/src/log.ts';
import { Era2025Clients, HANDSHAKE_CACHE_MS } from '../../gateway/src/mcp/era-2025-clients.ts';
import type { TokenClaims } from '../../gateway/src/tokens/claims.ts';
import { useMigratedDatabase, usingPostgres } from '../helpers/database.ts';
import { ADMIN_KEY, REPO_ROOT } from '../helpers/gateway.ts';
import {
  type GatewayProcess,
  gatewayDatabase,
  listenUrl,
  startGatewayProcess,
} from '../helpers/gateway-process.ts';
import { startHttpFront } from '../helpers/round-robin.ts';

type Replica = 'a' | 'b';
type Json = Record<string, unknown>;

const FIXTURE_SERVER = path.join(REPO_ROOT, 'servers/fixture/src/server.ts');
const TSX_LOADER = path.join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs');
const SAMPLED = { role: 'assistant', content: { type: 'text', text: 'Bonjour' }, model: 'test' };
const DETAILS = { action: 'accept', content: { username: 'ada', email: 'ada@example.com' } };
const ROOTS = { roots: [{ uri: 'file:///work/project', name: 'project' }] };

const textOf = (result: { content?: unknown }): string =>
  ((result.content as Array<{ text?: string }> | undefined) ?? []).map((c) => c.text).join('');

/** The fixture twice: shared (`fixture`) and one process per task (`ownfixture`, whose logs pass). */
function writeIntegrations(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-era2025-'));
  const server = (instances: string) =>
    `server:\n  transport: stdio\n  command: node\n  args: ["--import", "${TSX_LOADER}", "${FIXTURE_SERVER}"]\n  instances: ${instances}\n`;
  for (const [name, instances] of [
    ['fixture', 'shared'],
    ['ownfixture', 'task'],
  ]) {
    fs.mkdirSync(path.join(dir, 'integrations', name as string), { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'integrations', name as string, 'switchboard.yaml'),
      `apiVersion: switchboard/v1\nname: ${name}\nversion: 0.1.0\ndescription: servers/fixture\n${server(instances as string)}`,
    );
  }
  fs.writeFileSync(
    path.join(dir, 'policy.yaml'),
    `apiVersion: switchboard/policy/v1
integrations:
  fixture: { enabled: true }
  ownfixture: { enabled: true }
tokens: { defaultTtl: 15m, maxTtl: 2h }
`,
  );
  return dir;
}

/** Forwards each request to the replica its `x-replica` header names (Host kept as is). */
async function startRoutingProxy() {
  const backends: Record<Replica, string> = { a: '', b: '' };
  const front = await startHttpFront(
    (req) => backends[req.headers['x-replica'] === 'a' ? 'a' : 'b'],
  );
  return { ...front, backends };
}

interface Sent {
  replica: Replica;
  /** The JSON-RPC method, `reply` for an answer to the gateway's request, `GET` for the stream. */
  kind: string;
  /** 0 until answered. */
  status: number;
  /** How long its answer took (its headers, for a stream). */
  ms: number;
  /** performance.now() when it was sent. */
  at: number;
}

/**
 * The client side of the balancer: initialize, logging/setLevel and replies go to A, everything
 * else (notifications/initialized, tools/call, the GET stream) to B.
 */
function routedFetch(sent: Sent[]): typeof fetch {
  return async (input, init) => {
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as Json) : undefined;
    const kind =
      body === undefined ? (init?.method ?? 'GET') : ((body.method as string) ?? 'reply');
    const replica: Replica = ['initialize', 'logging/setLevel', 'reply'].includes(kind) ? 'a' : 'b';
    const headers = new Headers(init?.headers);
    headers.set('x-replica', replica);
    // Recorded as it leaves: a reply's call may end (on B's stream) before its POST is answered.
    const entry: Sent = { replica, kind, status: 0, ms: 0, at: performance.now() };
    sent.push(entry);
    const res = await fetch(input, { ...init, headers });
    entry.status = res.status;
    entry.ms = performance.now() - entry.at;
    return res;
  };
}

describe('2025-era clients across two gateway replicas with no affinity', () => {
  let a: GatewayProcess | undefined;
  let b: GatewayProcess | undefined;
  let proxy: Awaited<ReturnType<typeof startRoutingProxy>> | undefined;
  let dir: string | undefined;
  let db: postgres.Sql | undefined;
  const clients: Client[] = [];

  async function admin(route: string, body?: unknown): Promise<{ status: number; json: Json }> {
    const res = await fetch(`${listenUrl(a!)}/api/v1${route}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Json };
  }

  async function ready(gw: GatewayProcess, name: string): Promise<void> {
    for (let i = 0; i < 600; i++) {
      const res = await fetch(`${listenUrl(gw)}/api/v1/integrations/${name}`, {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      });
      const json = (await res.json()) as Json;
      if (((json.integration as Json | undefined)?.state ?? json.state) === 'ready') return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${name} did not become ready`);
  }

  /** A 2025-era v2 SDK client of a new external task, routed by `routedFetch`. */
  async function connect(capabilities: Json, sent: Sent[]): Promise<Client> {
    const created = await admin('/tasks', {
      external: true,
      scope: ['fixture:*', 'ownfixture:*'],
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const token = (created.json.mcp as { token: string }).token;
    const client = new Client({ name: 'era2025-replicas', version: '1.0.0' }, { capabilities });
    clients.push(client);
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${proxy!.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
        fetch: routedFetch(sent),
      }),
    );
    expect(client.getProtocolEra()).toBe('legacy');
    return client;
  }

  beforeAll(async () => {
    dir = writeIntegrations();
    proxy = await startRoutingProxy();
    const env = {
      SWITCHBOARD_POLICY: path.join(dir, 'policy.yaml'),
      INTEGRATION_DIRS: path.join(dir, 'integrations'),
      SWITCHBOARD_MASTER_KEY: '5a'.repeat(32),
      SWITCHBOARD_PUBLIC_URL: proxy.url,
    };
    a = await startGatewayProcess(env);
    if (usingPostgres) {
      b = await startGatewayProcess({ ...env, DATABASE_URL: gatewayDatabase(a) });
      db = postgres(gatewayDatabase(a), { max: 1, onnotice: () => {} });
    } else {
      console.log(
        'embedded PGlite admits one process: A and B are the same gateway here (the same flows, replies delivered in memory); two processes run with DATABASE_URL',
      );
      b = a;
    }
    proxy.backends.a = listenUrl(a);
    proxy.backends.b = listenUrl(b);
    await Promise.all([a, b].flatMap((gw) => [ready(gw, 'fixture'), ready(gw, 'ownfixture')]));
  }, 180_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await db?.end();
    if (b !== a) await b?.cleanup();
    await a?.cleanup();
    await proxy?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('initialize on A, tools/call on B, the reply to its elicitation, sampling and roots request on A', async () => {
    const sent: Sent[] = [];
    const client = await connect({ elicitation: { form: {} }, sampling: {}, roots: {} }, sent);
    client.setRequestHandler('elicitation/create', async () => DETAILS as never);
    client.setRequestHandler('sampling/createMessage', async () => SAMPLED as never);
    client.setRequestHandler('roots/list', async () => ROOTS as never);
    expect(sent[0]).toMatchObject({ replica: 'a', kind: 'initialize', status: 200 });

    const cases: Array<[string, string]> = [
      [
        'fixture__test_elicitation',
        'User response: action=accept, content={"username":"ada","email":"ada@example.com"}',
      ],
      ['fixture__test_sampling', 'LLM response: Bonjour'],
      ['fixture__test_input_required_result_list_roots', 'Client roots: file:///work/project'],
    ];
    for (const [name, expected] of cases) {
      const from = sent.length;
      const result = await client.callTool({ name, arguments: {} });
      const ended = performance.now();
      expect(textOf(result), name).toBe(expected);
      const mine = sent.slice(from);
      await expect.poll(() => mine[1]?.status).toBe(202);
      // The call went to B, and its one reply to A, which accepted it (202): handed over.
      expect(
        mine.map(({ replica, kind, status }) => ({ replica, kind, status })),
        name,
      ).toEqual([
        { replica: 'b', kind: 'tools/call', status: 200 },
        { replica: 'a', kind: 'reply', status: 202 },
      ]);
      const reply = mine[1]!;
      console.log(
        `${name}: reply POST on A answered in ${reply.ms.toFixed(1)} ms; the call's result on B's stream ${(ended - reply.at).toFixed(1)} ms after the reply left (hand-over ${usingPostgres ? 'A → database → NOTIFY → B' : 'in memory'})`,
      );
    }
    if (db) {
      // The waits ended with their calls: no row is left behind.
      await expect
        .poll(async () => (await db!`select count(*)::int as n from client_reply_waits`)[0]?.n)
        .toBe(0);
      const handshakes = await db`select token_id, capabilities from era2025_handshakes`;
      expect(handshakes.map((h) => h.capabilities)).toContainEqual({
        elicitation: { form: {} },
        sampling: {},
        roots: {},
      });
    }
  }, 60_000);

  it('a logging/setLevel on A is honoured by a call on B', async () => {
    const sent: Sent[] = [];
    const client = await connect({}, sent);
    const received: unknown[] = [];
    client.setNotificationHandler('notifications/message', (n) => {
      received.push(n.params.data);
    });
    await client.setLoggingLevel('info');
    // B may have read this token's handshake (no level yet) for the client's
    // notifications/initialized within the last second: the documented staleness bound.
    await new Promise((r) => setTimeout(r, HANDSHAKE_CACHE_MS + 250));
    const result = await client.callTool({ name: 'ownfixture__test_tool_with_logging' });
    expect(textOf(result)).toBe('Tool with logging executed successfully');
    expect(received).toEqual([
      'Tool execution started',
      'Tool processing data',
      'Tool execution completed',
    ]);
    received.length = 0;
    await client.setLoggingLevel('error');
    await new Promise((r) => setTimeout(r, HANDSHAKE_CACHE_MS + 250));
    await client.callTool({ name: 'ownfixture__test_tool_with_logging' });
    expect(received).toEqual([]);
    expect(
      sent
        .filter((s) => s.kind !== 'notifications/initialized' && s.kind !== 'GET')
        .map(({ replica, kind }) => `${replica} ${kind}`),
    ).toEqual([
      'a initialize',
      'a logging/setLevel',
      'b tools/call',
      'a logging/setLevel',
      'b tools/call',
    ]);
  }, 60_000);
});

describe('what a handshake read adds to a 2025 tools/call', () => {
  const database = useMigratedDatabase();

  it('measures a cache hit and a miss (a read of the database); a handshake made elsewhere is seen at once', async () => {
    const log = createLogger('silent');
    const claims: TokenClaims = {
      tokenId: 'jti-measure',
      taskId: 'task-measure',
      sessionId: null,
      profile: null,
      scope: ['*:*'],
      audience: 'http://127.0.0.1/mcp',
      expiresAt: Math.floor(Date.now() / 1000) + 3600,
    };
    const here = new Era2025Clients(database().sql, log);
    await here.rememberInitialize(claims, { elicitation: { form: {} }, experimental: { x: {} } });
    // Another replica's first read: from the database, only the input kinds kept.
    const elsewhere = new Era2025Clients(database().sql, log);
    await elsewhere.load(claims);
    expect(elsewhere.capabilities(claims)).toEqual({ elicitation: { form: {} } });
    await here.rememberLogLevel(claims, 'debug');
    await new Era2025Clients(database().sql, log).load(claims);

    const rounds = 300;
    let started = performance.now();
    for (let i = 0; i < rounds; i++) await here.load(claims);
    const hitUs = ((performance.now() - started) / rounds) * 1000;
    started = performance.now();
    for (let i = 0; i < rounds; i++) await new Era2025Clients(database().sql, log).load(claims);
    const missUs = ((performance.now() - started) / rounds) * 1000;
    console.log(
      `handshake read per 2025 request (${usingPostgres ? 'PostgreSQL' : 'PGlite'}): cache hit ${hitUs.toFixed(1)} µs, miss (one primary-key select) ${missUs.toFixed(1)} µs, mean of ${rounds}`,
    );
    const fresh = new Era2025Clients(database().sql, log);
    await fresh.load(claims);
    expect(fresh.logLevel(claims)).toBe('debug');
  });
});
