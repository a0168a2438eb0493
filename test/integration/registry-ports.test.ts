import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, REPO_ROOT, runSwitchboard, useTestGateway } from '../helpers/gateway.ts';

// Integrations that run their own HTTP server on a port. servers/chat's URL follows its
// CHAT_PORT setting, which the gateway fills with a free port (`auto: port`) unless an operator
// sets one; with the development policy, nothing is fixed. A process that cannot bind its port
// (EADDRINUSE) says so in the integration's status instead of a bare "exited with code 1".
const ROOT = fs.mkdtempSync(path.join(REPO_ROOT, 'test/fixtures/.generated-ports-'));
const LISTENER = path.join(REPO_ROOT, 'test/fixtures/processes/listener.mjs');

/** servers/chat as shipped, its built server run from servers/chat (the copy is its manifest alone). */
function writeChat(): void {
  const manifest = fs
    .readFileSync(path.join(REPO_ROOT, 'servers/chat/switchboard.yaml'), 'utf8')
    .replace(
      '"dist/server.js"',
      JSON.stringify(path.join(REPO_ROOT, 'servers/chat/dist/server.js')),
    );
  fs.mkdirSync(path.join(ROOT, 'chat'));
  fs.writeFileSync(path.join(ROOT, 'chat', 'switchboard.yaml'), manifest);
}

/** An HTTP server on a port another program holds: its process dies with EADDRINUSE. */
function writeTaken(): void {
  fs.mkdirSync(path.join(ROOT, 'taken'));
  fs.writeFileSync(
    path.join(ROOT, 'taken', 'switchboard.yaml'),
    `apiVersion: switchboard/v1
name: taken
version: 1.0.0
description: runs its HTTP server on the port in LISTEN_PORT
server: { transport: http, url: "http://127.0.0.1:\${LISTEN_PORT}/mcp", timeoutMs: 2000 }
settings:
  - { key: LISTEN_PORT, auto: port }
processes:
  - { name: server, command: node, args: [${JSON.stringify(LISTENER)}], requires: [LISTEN_PORT] }
capabilities: [processes]
`,
  );
}

/** Something else on the port: answers every request 404 (it is no MCP server). */
const foreign = http.createServer((_req, res) => res.writeHead(404).end('not here'));
let foreignPort = 0;

interface Detail {
  state: string;
  lastError: string | null;
  reasons: unknown[];
  settings: Array<{ key: string; source: string | null; value: string | null }>;
  processes: Array<{ name: string; state: string; lastExit: string | null }>;
}

describe('registry: ports of integrations that run their own HTTP server', () => {
  beforeAll(async () => {
    await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
    foreignPort = (foreign.address() as net.AddressInfo).port;
    writeChat();
    writeTaken();
    // The development policy's chat entry as shipped, plus `taken`.
    const policy = fs.readFileSync(path.join(REPO_ROOT, 'policy/default.yaml'), 'utf8').replace(
      /\nintegrations:\n/,
      `\nintegrations:
  taken:
    enabled: true
    grants: [processes]
    allowUrls: ["http://127.0.0.1:\${LISTEN_PORT}"]
    settings: { LISTEN_PORT: "${foreignPort}" }
`,
    );
    fs.writeFileSync(path.join(ROOT, 'policy.yaml'), policy);
  });
  const gw = useTestGateway({
    INTEGRATION_DIRS: ROOT,
    SWITCHBOARD_POLICY: path.join(ROOT, 'policy.yaml'),
  });
  afterAll(async () => {
    foreign.closeAllConnections();
    await new Promise((resolve) => foreign.close(resolve));
    fs.rmSync(ROOT, { recursive: true, force: true });
  });

  const detail = async (name: string): Promise<Detail> => {
    const res = await fetch(`${gw().url}/api/v1/integrations/${name}`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { integration: Detail }).integration;
  };

  it('chat runs on a port the gateway picked, and its URL follows CHAT_PORT', async () => {
    const chat = await detail('chat');
    expect(chat).toMatchObject({ state: 'ready', reasons: [], lastError: null });
    const port = chat.settings.find((s) => s.key === 'CHAT_PORT')!;
    expect(port).toMatchObject({ source: 'auto', value: expect.stringMatching(/^[1-9]\d{0,4}$/) });
    // chat itself answers there: its own refusal of a request without the gateway's token.
    const res = await fetch(`http://127.0.0.1:${port.value}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_token' } });
  });

  it('a process that cannot bind its port shows EADDRINUSE in the integration’s status', async () => {
    const taken = await detail('taken');
    const cause = `(stderr: Error: listen EADDRINUSE: address already in use 127.0.0.1:${foreignPort})`;
    // The gateway reached the foreign server (404), kept trying while the process started, then
    // gave up: the reason names how the process ended, not only what answered.
    expect(taken.state).toBe('failed');
    expect(taken.lastError).toContain(`cannot reach http://127.0.0.1:${foreignPort}/mcp`);
    expect(taken.lastError).toContain(`; process server exited with code 1 ${cause}`);
    expect(taken.processes).toEqual([
      expect.objectContaining({ name: 'server', lastExit: `exited with code 1 ${cause}` }),
    ]);
    const list = await runSwitchboard(['integrations', 'list'], {
      SWITCHBOARD_URL: gw().url,
      SWITCHBOARD_API_KEY: ADMIN_KEY,
    });
    expect(list.stdout).toMatch(
      /^taken\s+1\.0\.0\s+http\s+failed\s+advisory\s+0\s+.*EADDRINUSE: address already in use/m,
    );
  });
});
