/**
 * Issue 19: "client input (elicitation) works with requests and replies on different replicas".
 * The SDK client talks to /mcp/fixture through the balancer with `Connection: close`, so each of
 * its HTTP requests is balanced on its own, as it would be behind a per-request (L7) balancer or
 * a per-connection one without keep-alive: the call, and the reply to the question asked on the
 * call's stream, land on different replicas. The fixture's test_elicitation asks for a username
 * and an email (servers/fixture/src/conformance-tools.ts).
 *
 * - A 2025-era client (2025-11-25, elicitation/create sent to it on the call's SSE stream; its
 *   reply is a POST of its own): needs the handshake and the pending question shared between
 *   replicas (kept in PostgreSQL, replies routed by LISTEN/NOTIFY), which is being built on
 *   another branch; until that merges this test fails here, on purpose (not skipped).
 * - A 2026-era client (2026-07-28, SEP-2322): the question comes back as an input_required
 *   result and the retry carries the answer in the request itself, so any replica serves it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/gateway.ts';
import { type Cluster, startCluster } from './cluster.ts';

const DETAILS = { action: 'accept', content: { username: 'ada', email: 'ada@example.com' } };
const ANSWER = 'User response: action=accept, content={"username":"ada","email":"ada@example.com"}';

const textOf = (result: { content?: unknown }): string =>
  (result.content as Array<{ type: string; text?: string }>)[0]?.text ?? '';

describe('client input with requests and replies on different replicas', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-replicas-input-'));
  let cluster: Cluster;
  const clients: Client[] = [];
  beforeAll(async () => {
    const policy = path.join(tmp, 'policy.yaml');
    fs.writeFileSync(
      policy,
      'apiVersion: switchboard/policy/v1\nintegrations:\n  fixture: { enabled: true }\ntokens: { defaultTtl: 15m, maxTtl: 2h }\n',
    );
    cluster = await startCluster({
      INTEGRATION_DIRS: path.join(REPO_ROOT, 'test/fixtures/mcp-integrations'),
      SWITCHBOARD_POLICY: policy,
    });
  });
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {});
    await cluster?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** An external task's token for /mcp/fixture, minted through the balancer. */
  async function fixtureGrant(): Promise<{ url: string; token: string }> {
    const res = await cluster.api('POST', '/tasks', { external: true, scope: ['fixture:*'] });
    expect(res.status).toBe(201);
    const granted = (await res.json()) as {
      integrations: Array<{ name: string; url: string; token: string }>;
    };
    const fixture = granted.integrations.find((i) => i.name === 'fixture');
    expect(fixture?.url).toBe(`${cluster.url}/mcp/fixture`);
    return fixture!;
  }

  async function connect(era: 'legacy' | 'modern'): Promise<Client> {
    const { url, token } = await fixtureGrant();
    const client = new Client(
      { name: `replicas-${era}`, version: '1.0.0' },
      {
        capabilities: { elicitation: { form: {} } },
        ...(era === 'modern' && { versionNegotiation: { mode: 'auto' as const } }),
      },
    );
    clients.push(client);
    client.setRequestHandler('elicitation/create', async () => DETAILS as never);
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url), {
        // A new connection per request: each is balanced on its own (test/helpers/balancer.ts).
        requestInit: { headers: { authorization: `Bearer ${token}`, connection: 'close' } },
      }),
    );
    expect(client.getProtocolEra()).toBe(era);
    return client;
  }

  /** Calls test_elicitation and answers which replicas took a connection meanwhile. */
  async function elicit(client: Client): Promise<{ text: string; replicas: number[] }> {
    const before = [...cluster.balancer.connections];
    // 15 s, not the SDK's 60: a reply that goes nowhere fails the test without holding the suite.
    const result = await client.callTool(
      { name: 'test_elicitation', arguments: {} },
      { timeout: 15_000 },
    );
    const replicas = cluster.balancer.connections
      .map((n, i) => (n > (before[i] ?? 0) ? i : -1))
      .filter((i) => i >= 0);
    return { text: textOf(result), replicas };
  }

  it('a 2025-era client (2025-11-25): elicitation/create on the call’s stream, its reply on another replica', async () => {
    const client = await connect('legacy');
    const { text, replicas } = await elicit(client);
    console.log(`2025-era elicitation: connections went to replicas ${JSON.stringify(replicas)}`);
    expect(replicas.length).toBeGreaterThanOrEqual(2);
    expect(text).toBe(ANSWER);
  });

  it('a 2026-era client (2026-07-28): input_required, the retry with the answer on another replica', async () => {
    const client = await connect('modern');
    const { text, replicas } = await elicit(client);
    console.log(`2026-era elicitation: connections went to replicas ${JSON.stringify(replicas)}`);
    expect(replicas.length).toBeGreaterThanOrEqual(2);
    expect(text).toBe(ANSWER);
  });
});
