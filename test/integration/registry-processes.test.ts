import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessBus } from '../../gateway/src/db/bus.ts';
import { IntegrationRegistry } from '../../gateway/src/integrations/registry.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { TokenService } from '../../gateway/src/tokens/service.ts';
import { useMigratedDatabase } from '../helpers/database.ts';
import { REPO_ROOT } from '../helpers/gateway.ts';
import { alive, freePort, readReports, waitFor } from '../helpers/processes.ts';

// Manifest `processes` started by the registry: an HTTP MCP server run by the integration's own
// process (as servers/chat is) becomes `ready` once it listens, accepting the gateway's token; each process gets only the
// settings it `requires`; one whose settings are missing waits; reload restarts them.
const CHAT_SERVER = path.join(REPO_ROOT, 'servers/chat/src/server.ts');
const REPORTER = path.join(REPO_ROOT, 'test/fixtures/processes/reporter.mjs');
// Inside the repository so that `node --import tsx` in the integration folder finds tsx.
const ROOT = fs.mkdtempSync(path.join(REPO_ROOT, 'test/fixtures/.generated-'));
const REPORT_FILE = path.join(ROOT, 'reports.jsonl');

function writeIntegration(port: number): void {
  fs.mkdirSync(path.join(ROOT, 'chatproc'));
  fs.writeFileSync(
    path.join(ROOT, 'chatproc', 'switchboard.yaml'),
    `apiVersion: switchboard/v1
name: chatproc
version: 1.0.0
description: the chat example's server, run as this integration's own process
server: { transport: http, url: "http://127.0.0.1:${port}/mcp" }
settings:
  - { key: CHAT_PORT, default: "${port}" }
  - { key: REPORT_FILE }
  - { key: EXTRA_SECRET, secret: true }
  - { key: LISTENER_TOKEN, secret: true }
processes:
  - { name: server, command: node, args: ["--import", "tsx", "${CHAT_SERVER}"], requires: [CHAT_PORT] }
  - { name: reporter, command: node, args: ["${REPORTER}"], requires: [REPORT_FILE] }
  - { name: listener, command: node, args: ["${REPORTER}"], requires: [LISTENER_TOKEN] }
tools: { hidden: [on_webhook, deliver] }
capabilities: [processes]
`,
  );
  fs.writeFileSync(
    path.join(ROOT, 'policy.yaml'),
    `apiVersion: switchboard/policy/v1
integrations:
  chatproc: { enabled: true, grants: [processes], allowUrls: ["http://127.0.0.1:${port}"] }
`,
  );
}

const reports = () => readReports(REPORT_FILE);

describe('registry: integration processes', () => {
  const database = useMigratedDatabase();
  let registry: IntegrationRegistry;

  let tokens: TokenService;
  let jwks: http.Server;
  let GATEWAY_URL = '';

  beforeAll(async () => {
    writeIntegration(await freePort());
    // chat, started by the gateway, verifies the gateway's token against its JWKS: serve them.
    jwks = http.createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(tokens.jwks()));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    GATEWAY_URL = `http://127.0.0.1:${(jwks.address() as net.AddressInfo).port}`;
    const log = createLogger('silent');
    tokens = await TokenService.start({
      sql: database().sql,
      masterKey: Buffer.alloc(32, 5),
      bus: new InProcessBus(),
      log,
      issuer: () => GATEWAY_URL,
    });
    registry = new IntegrationRegistry({
      sql: database().sql,
      log: createLogger('silent'),
      config: { integrationDirs: [ROOT], policyPath: path.join(ROOT, 'policy.yaml') },
      masterKey: Buffer.alloc(32, 5),
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATABASE_URL: 'postgres://must-not-leak',
        SWITCHBOARD_SETTING_CHATPROC__REPORT_FILE: REPORT_FILE,
        SWITCHBOARD_SETTING_CHATPROC__EXTRA_SECRET: 'not-for-the-reporter',
      },
      gatewayUrl: () => GATEWAY_URL,
      gatewayToken: (integration) => tokens.mintGateway(integration),
    });
    await registry.loadAll();
    expect(registry.get('chatproc')?.state).toBe('starting');
    await registry.whenSettled();
  }, 30_000);
  afterAll(async () => {
    await registry?.stopAll();
    await tokens?.close();
    jwks?.closeAllConnections();
    await new Promise((resolve) => (jwks ? jwks.close(resolve) : resolve(undefined)));
    fs.rmSync(ROOT, { recursive: true, force: true });
  });

  it('an HTTP server run by its own process becomes ready once it listens', () => {
    const item = registry.get('chatproc')!;
    expect(item).toMatchObject({ state: 'ready', lastError: undefined });
    expect(item.tools.map((t) => t.name)).toContain('post_message');
    const server = item.processes.find((p) => p.status().name === 'server')!.status();
    expect(server).toMatchObject({ state: 'running', restarts: 0 });
    expect(alive(server.pid!)).toBe(true);
  });

  it('a process gets PATH, HOME, SWITCHBOARD_URL, its integration and only the settings it requires', async () => {
    await waitFor(() => reports().length === 1);
    expect(reports()[0]!.env).toEqual({
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      REPORT_FILE,
      SWITCHBOARD_URL: GATEWAY_URL,
      SWITCHBOARD_INTEGRATION: 'chatproc',
    });
  });

  it('a process whose required settings are unset waits, named in its status', () => {
    const listener = registry
      .get('chatproc')!
      .processes.find((p) => p.status().name === 'listener')!;
    expect(listener.status()).toMatchObject({
      state: 'waiting',
      pid: undefined,
      missing: ['LISTENER_TOKEN'],
    });
  });

  it('reload stops the old processes and starts new ones; stopAll stops them all', async () => {
    const before = registry.get('chatproc')!.processes.map((p) => p.status().pid);
    const reloaded = await registry.reload('chatproc');
    expect(reloaded?.state).toBe('ready');
    for (const pid of before) if (pid !== undefined) expect(alive(pid)).toBe(false);
    await waitFor(() => reports().length === 2);
    const after = reloaded!.processes.map((p) => p.status().pid).filter((p) => p !== undefined);
    expect(after).toHaveLength(2);
    await registry.stopAll();
    for (const pid of after) expect(alive(pid)).toBe(false);
    expect(registry.get('chatproc')?.state).toBe('stopped');
  });
});
