import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { testDatabase } from '../helpers/database.ts';
import { ADMIN_KEY, CLI, EMPTY_DIR, REPO_ROOT, startTestGateway } from '../helpers/gateway.ts';
import { descendants, freePort, killAll, waitFor } from '../helpers/processes.ts';

// Issue 12, "Also from trying it": logs readable on a terminal (pretty when stdout is a TTY,
// JSON lines otherwise), no stack traces for expected start-up retries, /.well-known/jwks.json
// hits at debug.
const CHAT_SERVER = path.join(REPO_ROOT, 'servers/chat/src/server.ts');

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function gateway(env: Record<string, string> = {}) {
  const db = await testDatabase();
  cleanups.push(db.cleanup);
  const gw = await startTestGateway({ ...db.env, SWITCHBOARD_ADMIN_KEY: ADMIN_KEY, ...env });
  cleanups.push(gw.stop);
  return gw;
}

describe('logs', () => {
  it('a terminal gets readable lines, not JSON', async () => {
    const db = await testDatabase();
    cleanups.push(db.cleanup);
    // `script` gives the gateway a pseudo-terminal as stdout, as a person's shell does.
    const command = `exec ${process.execPath} ${CLI} start`;
    const terminal = spawn('script', ['-qfec', command, '/dev/null'], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TERM: 'xterm',
        ...db.env,
        PORT: '0',
        INTEGRATION_DIRS: EMPTY_DIR,
        SWITCHBOARD_ADMIN_KEY: ADMIN_KEY,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => terminal.on('exit', resolve));
    cleanups.push(async () => {
      killAll(descendants(terminal.pid!));
      terminal.kill('SIGKILL');
      await exited;
    });
    let output = '';
    terminal.stdout.on('data', (d) => {
      output += d;
    });
    const plain = () => stripVTControlCharacters(output).replace(/\r/g, '');
    await waitFor(() => plain().includes('switchboard gateway listening'), 50_000);
    const [gatewayPid] = descendants(terminal.pid!);
    process.kill(gatewayPid!, 'SIGTERM');
    await waitFor(() => plain().includes('INFO  shut down'), 30_000);
    const lines = plain()
      .split('\n')
      .filter((l) => l !== '');
    expect(lines.filter((l) => l.startsWith('{'))).toEqual([]);
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^\d\d:\d\d:\d\d\.\d{3} INFO {2}switchboard gateway listening url=http:\/\/127\.0\.0\.1:\d+ listen=127\.0\.0\.1:\d+$/,
      ),
    );
    expect(lines).toContainEqual(expect.stringMatching(/ INFO {2}database connected database=/));
    // Colored: the level names carry ANSI codes on a terminal.
    expect(output).toContain('\x1b[32mINFO \x1b[0m');
  });

  it('/.well-known/jwks.json requests are logged at debug, like health probes', async () => {
    const gw = await gateway();
    expect((await fetch(`${gw.url}/.well-known/jwks.json`)).status).toBe(200);
    expect((await fetch(`${gw.url}/api/v1/keys`, auth())).status).toBe(200);
    await expect
      .poll(() => gw.logs.lines.filter((l) => l.msg === 'request').map((l) => [l.route, l.level]))
      .toEqual(
        expect.arrayContaining([
          ['/.well-known/jwks.json', 'debug'],
          ['/api/v1/keys', 'info'],
        ]),
      );
    const jwks = gw.logs.lines.filter((l) => l.route === '/.well-known/jwks.json');
    expect(jwks.map((l) => l.level)).not.toContain('info');
  });

  it('an integration server still starting is retried without a stack trace in the log', async () => {
    // An HTTP server run by the integration's own process: it listens a moment after it is
    // spawned, and the gateway's first attempts to reach it are refused, as expected.
    const port = await freePort();
    const root = fs.mkdtempSync(path.join(REPO_ROOT, 'test/fixtures/.generated-'));
    cleanups.push(async () => fs.rmSync(root, { recursive: true, force: true }));
    fs.mkdirSync(path.join(root, 'integrations/slowchat'), { recursive: true });
    fs.writeFileSync(
      path.join(root, 'integrations/slowchat/switchboard.yaml'),
      `apiVersion: switchboard/v1
name: slowchat
version: 1.0.0
description: the chat example's server, run as this integration's own process
server: { transport: http, url: "http://127.0.0.1:${port}/mcp" }
settings:
  - { key: CHAT_PORT, default: "${port}" }
processes:
  - { name: server, command: node, args: ["--import", "tsx", "${CHAT_SERVER}"], requires: [CHAT_PORT] }
tools: { hidden: [on_webhook, deliver] }
capabilities: [processes]
`,
    );
    fs.writeFileSync(
      path.join(root, 'policy.yaml'),
      `apiVersion: switchboard/policy/v1
integrations:
  slowchat: { enabled: true, grants: [processes], allowUrls: ["http://127.0.0.1:${port}"] }
`,
    );
    const gw = await gateway({
      INTEGRATION_DIRS: path.join(root, 'integrations'),
      SWITCHBOARD_POLICY: path.join(root, 'policy.yaml'),
    });
    expect(gw.registry.get('slowchat')?.state).toBe('ready');
    const refused = gw.logs.lines.filter((l) => l.msg === 'upstream connect failed');
    expect(refused.length).toBeGreaterThan(0);
    for (const line of refused) {
      expect(line).toMatchObject({
        integration: 'slowchat',
        cause: expect.stringMatching(/ECONNREFUSED/),
      });
      expect(JSON.stringify(line)).not.toContain('"stack"');
    }
  });
});

const auth = () => ({ headers: { authorization: `Bearer ${ADMIN_KEY}` } });
