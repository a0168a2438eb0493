/**
 * A gateway MCP core for tests: an IntegrationRegistry over test/fixtures/mcp-integrations
 * (plus the HTTP `recorder`, whose URL is known only once it listens), and a small express app
 * that authenticates each request by a TEST-ONLY header naming a TokenClaims and calls the endpoint's
 * handle(). The product has no such bypass: this only exercises the core before the auth layer
 * (tokens, 401/403, Origin) is wired around it.
 */
import fs from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import express from 'express';
import { parse, stringify } from 'yaml';
import { InProcessBus } from '../../gateway/src/db/bus.ts';
import type { Database } from '../../gateway/src/db/connect.ts';
import type { ToolCallEvent } from '../../gateway/src/events/tool-calls.ts';
import type { ToolCallGuard } from '../../gateway/src/guards/guard.ts';
import { IntegrationRegistry } from '../../gateway/src/integrations/registry.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { createMcpEndpoint, type McpEndpoint } from '../../gateway/src/mcp/endpoint.ts';
import type { TokenClaims } from '../../gateway/src/tokens/claims.ts';
import { type Recorder, startRecorder } from '../fixtures/mcp-servers/recorder.ts';
import { REPO_ROOT } from './gateway.ts';

export const MCP_FIXTURES = path.join(REPO_ROOT, 'test/fixtures/mcp-integrations');
/** The test-only header the harness app authenticates by. */
export const GRANT_HEADER = 'x-test-grant';
/** Small pages, so pagination is exercised with a handful of tools. */
export const TEST_PAGE_SIZE = 3;

/** The agent's own bearer token for a grant name: sent on every request, never to go upstream. */
export const agentToken = (name: string) => `agent-secret-${name}`;

export function grant(
  name: string,
  scope: string[],
  sessionId: string | null = null,
  profile: string | null = null,
): TokenClaims {
  return {
    tokenId: `jti-${name}`,
    taskId: `task-${name}`,
    sessionId,
    profile,
    scope,
    audience: 'http://127.0.0.1/mcp',
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
  };
}

export interface Harness {
  url: (integration?: string) => URL;
  registry: IntegrationRegistry;
  endpoint: McpEndpoint;
  recorder: Recorder;
  events: ToolCallEvent[];
  grants: Map<string, TokenClaims>;
  /** The policy file the registry reads (a test may rewrite it and reload). */
  policyPath: string;
  close(): Promise<void>;
}

/** More integrations for one test file: manifests by name, enabled in the policy as they are. */
export type ExtraIntegrations = Record<string, Record<string, unknown>>;

export async function startHarness(
  database: () => Database,
  extra: ExtraIntegrations = {},
  options: {
    guards?: readonly ToolCallGuard[];
    /** Top-level policy fields added to the fixtures' policy (e.g. profiles, rules). */
    policy?: Record<string, unknown>;
  } = {},
): Promise<Harness> {
  const log = createLogger(process.env.MCP_TEST_LOG ?? 'silent');
  const recorder = await startRecorder();
  // The recorder's root and a policy that allows its origin, next to the static fixtures.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-mcp-'));
  fs.mkdirSync(path.join(root, 'recorder'));
  fs.writeFileSync(
    path.join(root, 'recorder', 'switchboard.yaml'),
    stringify({
      apiVersion: 'switchboard/v1',
      name: 'recorder',
      version: '0.1.0',
      description: 'Records the Authorization header of every request (test HTTP upstream)',
      server: { transport: 'http', url: recorder.url },
    }),
  );
  const policy = parse(fs.readFileSync(path.join(MCP_FIXTURES, 'policy.yaml'), 'utf8'));
  policy.integrations.recorder = { enabled: true, allowUrls: [new URL(recorder.url).origin] };
  for (const [name, manifest] of Object.entries(extra)) {
    fs.mkdirSync(path.join(root, name));
    fs.writeFileSync(path.join(root, name, 'switchboard.yaml'), stringify(manifest));
    policy.integrations[name] = { enabled: true };
  }
  Object.assign(policy, options.policy);
  const policyPath = path.join(root, 'policy.yaml');
  fs.writeFileSync(policyPath, stringify(policy));

  const registry = new IntegrationRegistry({
    sql: database().sql,
    log,
    config: { integrationDirs: [MCP_FIXTURES, root], policyPath },
    masterKey: Buffer.alloc(32, 7),
    gatewayUrl: () => 'http://127.0.0.1:9',
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
  await registry.loadAll();
  await registry.whenSettled();

  const events: ToolCallEvent[] = [];
  const grants = new Map<string, TokenClaims>();
  const endpoint = createMcpEndpoint({
    registry,
    log,
    sql: database().sql,
    bus: new InProcessBus(),
    instance: 'mcp-harness',
    upstreamToken: async (integration, g, tools) =>
      `upstream.${integration}.${g.taskId}.${tools.join(',')}`,
    onToolCall: (event) => events.push(event),
    includeArguments: (integration) => integration === 'probe',
    pageSize: TEST_PAGE_SIZE,
    ...(options.guards && { guards: options.guards }),
  });

  const app = express();
  app.use(express.json({ limit: '4mb' }));
  app.all('/mcp{/:integration}', async (req, res) => {
    const found = grants.get(req.get(GRANT_HEADER) ?? '');
    if (!found) {
      res.status(401).json({ error: 'unknown test grant' });
      return;
    }
    await endpoint.handle(req, res, found, req.params.integration, req.body);
  });
  const http = await new Promise<HttpServer>((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server));
  });
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    url: (integration) =>
      new URL(integration ? `/mcp/${integration}` : '/mcp', `http://127.0.0.1:${port}`),
    registry,
    endpoint,
    recorder,
    events,
    grants,
    policyPath,
    async close() {
      await endpoint.close();
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
      await registry.stopAll();
      await recorder.close();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

const headers = (name: string) => ({
  [GRANT_HEADER]: name,
  authorization: `Bearer ${agentToken(name)}`,
});

/** A v2 client: `modern` negotiates 2026-07-28 (versionNegotiation auto), `legacy` the 2025 handshake. */
export async function connectV2(
  url: URL,
  grantName: string,
  era: 'modern' | 'legacy',
  fetch?: typeof globalThis.fetch,
): Promise<Client> {
  const client = new Client(
    { name: `test-${era}`, version: '1.0.0' },
    era === 'modern' ? { versionNegotiation: { mode: 'auto' } } : {},
  );
  await client.connect(
    new StreamableHTTPClientTransport(url, {
      requestInit: { headers: headers(grantName) },
      ...(fetch && { fetch }),
    }),
  );
  return client;
}

/** The 1.x SDK client (protocol 2025-11-25 and earlier), as most deployed agents still are. */
export async function connectV1(url: URL, grantName: string): Promise<V1Client> {
  const client = new V1Client({ name: 'test-v1', version: '1.0.0' });
  await client.connect(new V1Transport(url, { requestInit: { headers: headers(grantName) } }));
  return client;
}

/** Clients a test file opens, closed together in its afterAll (`closeAll`). */
export function clientTracker(): {
  track: <T extends { close(): Promise<void> }>(client: T) => T;
  closeAll: () => Promise<void>;
} {
  const clients: Array<{ close(): Promise<void> }> = [];
  return {
    track: (client) => {
      clients.push(client);
      return client;
    },
    closeAll: async () => {
      await Promise.all(clients.map((c) => c.close().catch(() => {})));
    },
  };
}
