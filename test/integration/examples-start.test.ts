import fs from 'node:fs';
import net from 'node:net';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, runSwitchboard } from '../helpers/gateway.ts';
import { type GatewayProcess, startGatewayProcess } from '../helpers/gateway-process.ts';

// Issue 3, "done when": `switchboard start` with the shipped examples (INTEGRATION_DIRS=servers)
// and the development policy shows github, chat, notes and fixture `ready` in `switchboard
// integrations list`, and weather `refused` with setting_missing — until its key is set.
// chat listens on the port the gateway picked for it (CHAT_PORT, `auto: port`): no fixed port
// another program could hold.

async function portIsFree(port: number): Promise<boolean> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Alive and not a zombie (an orphan's exit is reaped by init, which may take a moment). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false; // gone between the two looks
  }
}

interface Listed {
  name: string;
  state: string;
  reasons: Array<{ code: string; message: string }>;
  tools: string[];
  processes: Array<{ name: string; state: string; pid?: number }>;
}

describe('switchboard start with the example integrations', () => {
  let gw: GatewayProcess;
  let booted: number;
  const cli = (...args: string[]) =>
    runSwitchboard(args, { SWITCHBOARD_URL: gw.url, SWITCHBOARD_API_KEY: ADMIN_KEY });
  const listJson = async () => {
    const result = await cli('integrations', 'list', '--json');
    expect(result.stderr).toBe('');
    return (JSON.parse(result.stdout) as { integrations: Listed[] }).integrations;
  };

  /** CHAT_PORT as the gateway resolved it: picked (source auto), shown in clear. */
  const chatPort = async (): Promise<number> => {
    const res = await fetch(`${gw.url}/api/v1/integrations/chat`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    const { integration } = (await res.json()) as {
      integration: { settings: Array<{ key: string; source: string; value: string }> };
    };
    const setting = integration.settings.find((s) => s.key === 'CHAT_PORT');
    expect(setting).toMatchObject({ source: 'auto', value: expect.stringMatching(/^\d+$/) });
    return Number(setting!.value);
  };

  beforeAll(async () => {
    const started = performance.now();
    // The defaults of `npm start`: INTEGRATION_DIRS=servers, SWITCHBOARD_POLICY=policy/default.yaml.
    gw = await startGatewayProcess({ INTEGRATION_DIRS: 'servers' });
    const until = Date.now() + 60_000;
    while ((await listJson()).some((i) => i.state === 'starting')) {
      if (Date.now() > until) throw new Error('integrations still starting after 60 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    booted = performance.now() - started;
    console.log(`switchboard start → every example settled: ${booted.toFixed(0)} ms`);
  }, 90_000);
  afterAll(async () => {
    await gw?.cleanup();
  });

  it('lists the four examples ready and weather refused with its reason', async () => {
    const byName = Object.fromEntries((await listJson()).map((i) => [i.name, i]));
    expect(Object.keys(byName).sort()).toEqual(['chat', 'fixture', 'github', 'notes', 'weather']);
    for (const name of ['chat', 'fixture', 'github', 'notes']) {
      expect(byName[name], name).toMatchObject({ state: 'ready', reasons: [] });
      expect(byName[name]!.tools.length, name).toBeGreaterThan(0);
    }
    expect(byName.chat!.processes).toEqual([
      expect.objectContaining({ name: 'server', state: 'running' }),
    ]);
    expect(byName.weather).toMatchObject({
      state: 'refused',
      reasons: [{ code: 'setting_missing', message: expect.stringContaining('WEATHER_API_KEY') }],
    });

    const table = (await cli('integrations', 'list')).stdout;
    expect(table).toMatch(/^NAME\s+VERSION\s+TRANSPORT\s+STATE\s+EGRESS\s+TOOLS\s+REASONS$/m);
    expect(table).toMatch(/^chat\s+0\.1\.0\s+http\s+ready\s+advisory\s+\d+\s+-$/m);
    expect(table).toMatch(/^notes\s+\S+\s+stdio\s+ready\s+advisory\s+2\s+-$/m);
    expect(table).toMatch(
      /^weather\s+0\.1\.0\s+stdio\s+refused\s+-\s+0\s+setting_missing: .*WEATHER_API_KEY/m,
    );
  });

  it("chat, run by the gateway, refuses a request without the gateway's token", async () => {
    const res = await fetch(`http://127.0.0.1:${await chatPort()}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({
      error: { code: 'invalid_token', message: 'missing bearer token' },
    });
  });

  it('an agent reaches chat (HTTP) through /mcp; chat accepts the token the gateway minted for it', async () => {
    const res = await fetch(`${gw.url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ external: true, scope: ['chat:*', 'notes:*'] }),
    });
    const granted = (await res.json()) as { mcp: { url: string; token: string } };
    const client = new Client({ name: 'examples-start-test', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(granted.mcp.url), {
        requestInit: { headers: { authorization: `Bearer ${granted.mcp.token}` } },
      }),
    );
    try {
      const names = (await client.listTools()).tools.map((t) => t.name).sort();
      // Hidden handlers (chat's on_webhook, deliver) are not offered to agents.
      expect(names).toEqual([
        'chat__list_messages',
        'chat__post_message',
        'notes__add_note',
        'notes__search_notes',
      ]);
      // chat verifies every request against the gateway's JWKS with aud = chat: the agent's
      // token (aud = <gateway>/mcp) would be refused, so an answer proves it was not forwarded.
      const posted = await client.callTool({
        name: 'chat__post_message',
        arguments: { channel: 'general', text: 'hello from an agent' },
      });
      expect(posted.isError ?? false).toBe(false);
      const listed = await client.callTool({
        name: 'chat__list_messages',
        arguments: { channel: 'general' },
      });
      expect(JSON.stringify(listed.content)).toContain('hello from an agent');
    } finally {
      await client.close();
    }
  });

  it('weather becomes ready once an operator sets its key and reloads it', async () => {
    const set = await cli('integrations', 'settings', 'set', 'weather', 'WEATHER_API_KEY=demo-key');
    expect(set).toMatchObject({ code: 0, stderr: '' });
    const reload = await cli('integrations', 'reload', 'weather');
    expect(reload).toMatchObject({ code: 0, stderr: '' });
    expect(reload.stdout).toMatch(/^weather\s+0\.1\.0\s+stdio\s+ready\s+advisory\s+2\s+-$/m);
    // The secret is stored, not shown.
    expect(reload.stdout).not.toContain('demo-key');
  });

  it('the chat process ends with the gateway, even when the gateway is SIGKILLed', async () => {
    const chat = (await listJson()).find((i) => i.name === 'chat')!;
    const pid = chat.processes[0]!.pid!;
    expect(pid).toBeGreaterThan(0);
    const port = await chatPort();
    gw.child.kill('SIGKILL');
    await gw.exited;
    const until = Date.now() + 8_000;
    while (await portIsFree(port).then((free) => !free)) {
      if (Date.now() > until) throw new Error(`chat (pid ${pid}) still holds ${port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // The listening socket closes first; the process exits after its 2 s connection grace.
    while (running(pid)) {
      if (Date.now() > until) throw new Error(`chat (pid ${pid}) still runs`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
});
