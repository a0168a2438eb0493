import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { parseManifest } from '@switchboard/sdk';
import { afterAll, describe, expect, it } from 'vitest';
import { startChatProcess } from '../helpers/chat-process.ts';
import { REPO_ROOT } from '../helpers/gateway.ts';
import { startGatewayProcess } from '../helpers/gateway-process.ts';
import { manifestTransport } from '../helpers/server-transport.ts';

// Issue 20 item 2: the gateway and the TypeScript example servers run as compiled JavaScript,
// with no TypeScript loader at run time. Each process here is started as the product starts
// it (the `switchboard` bin; each example's manifest command) with a probe in NODE_OPTIONS
// (test/fixtures/load-probe) that writes its execArgv and every module it loads; the old
// `tsx/esm/api` import and `--import tsx` both load after the probe, so either would show.

const PROBE = path.join(REPO_ROOT, 'test/fixtures/load-probe/probe.mjs');
const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'compiled-runtime-'));
afterAll(() => fs.rmSync(outDir, { recursive: true, force: true }));

function probeEnv(name: string): { env: Record<string, string>; read: () => string[] } {
  const out = path.join(outDir, `${name}.txt`);
  return {
    env: { NODE_OPTIONS: `--import=${PROBE}`, LOAD_PROBE_OUT: out },
    read: () => fs.readFileSync(out, 'utf8').split('\n').filter(Boolean),
  };
}

/** What the probe saw: the process's execArgv and the files of the modules it loaded. */
function loaded(lines: string[]): { execArgv: string[]; files: string[] } {
  const execArgv = JSON.parse(lines[0]!.replace(/^execArgv /, '')) as string[];
  const files = lines
    .filter((l) => l.startsWith('load file://'))
    .map((l) => decodeURIComponent(new URL(l.slice('load '.length)).pathname));
  return { execArgv, files };
}

/** No TypeScript file, no TypeScript loader or compiler among what a process loaded. */
function expectNoTypeScript(what: { execArgv: string[]; files: string[] }): void {
  expect(what.execArgv.join(' ')).not.toMatch(/tsx|\.ts\b/);
  expect(what.files.filter((f) => /\.[cm]?tsx?$/.test(f))).toEqual([]);
  expect(what.files.filter((f) => /\/node_modules\/(tsx|typescript|esbuild)\//.test(f))).toEqual(
    [],
  );
}

function manifestOf(dir: string) {
  const file = path.join(REPO_ROOT, dir, 'switchboard.yaml');
  const parsed = parseManifest(fs.readFileSync(file, 'utf8'), file);
  if (!parsed.ok) throw new Error(`${file}: ${JSON.stringify(parsed.errors)}`);
  return parsed.manifest;
}

describe('compiled for production: no TypeScript loader at run time', () => {
  it('switchboard start runs gateway/dist and serves the console bundled at build time', async () => {
    const probe = probeEnv('gateway');
    const gw = await startGatewayProcess(probe.env);
    try {
      // The console: its prebuilt bundle (gateway/dist/console-bundle), so no esbuild either.
      const page = await fetch(`${gw.url}/console/`);
      expect(page.status).toBe(200);
      const html = await page.text();
      const script = /src="(app\.[\w-]+\.js)"/.exec(html)?.[1];
      expect(script, html).toBeDefined();
      expect(fs.existsSync(path.join(REPO_ROOT, 'gateway/dist/console-bundle', script!))).toBe(
        true,
      );
      const js = await fetch(`${gw.url}/console/${script}`);
      expect(js.status).toBe(200);
      await js.arrayBuffer();
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
      await gw.cleanup();
    }
    const what = loaded(probe.read());
    expectNoTypeScript(what);
    expect(what.files).toContain(path.join(REPO_ROOT, 'gateway/dist/cli/main.js'));
    expect(what.files).toContain(path.join(REPO_ROOT, 'gateway/dist/gateway.js'));
    expect(what.files).toContain(path.join(REPO_ROOT, 'sdk/dist/index.js'));
  });

  it.each(['fixture', 'github', 'weather'])(
    'servers/%s runs its dist/server.js as its manifest says',
    async (name) => {
      const dir = `servers/${name}`;
      const server = manifestOf(dir).server;
      if (server.transport !== 'stdio') throw new Error(`${dir}: expected a stdio server`);
      const probe = probeEnv(name);
      const client = new Client({ name: 'compiled-runtime-test', version: '0.0.0' });
      const transport = manifestTransport(path.join(REPO_ROOT, dir), server, {
        ...probe.env,
        // Required settings of github and weather: the servers start, nothing is called.
        GITHUB_TOKEN: 'token',
        GITHUB_WEBHOOK_SECRET: 'secret',
        WEATHER_API_KEY: '0123456789abcdef0123456789abcdef',
      });
      await client.connect(transport);
      expect((await client.listTools()).tools.length).toBeGreaterThan(0);
      await client.close();
      const what = loaded(probe.read());
      expectNoTypeScript(what);
      expect(server.args).toContain('dist/server.js');
      expect(what.files).toContain(path.join(REPO_ROOT, dir, 'dist/server.js'));
    },
  );

  it('servers/chat runs its dist/server.js as its manifest says', async () => {
    const entry = manifestOf('servers/chat').processes[0];
    const probe = probeEnv('chat');
    const { child, url } = await startChatProcess({
      ...probe.env,
      CHAT_PORT: '0',
      CHAT_SIGNING_SECRET: 'secret',
    });
    try {
      const client = new Client({ name: 'compiled-runtime-test', version: '0.0.0' });
      await client.connect(new StreamableHTTPClientTransport(url));
      expect((await client.listTools()).tools.length).toBeGreaterThan(0);
      await client.close();
    } finally {
      child.kill('SIGTERM');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    }
    const what = loaded(probe.read());
    expectNoTypeScript(what);
    expect(entry?.args).toContain('dist/server.js');
    expect(what.files).toContain(path.join(REPO_ROOT, 'servers/chat/dist/server.js'));
  });

  it('the build has source maps: a stack trace from dist/ names the .ts line', () => {
    // What the bin turns on (process.setSourceMapsEnabled) and the manifests pass
    // (--enable-source-maps), on a function of gateway/dist that throws.
    const script = `const { loadConfig } = await import(${JSON.stringify(
      path.join(REPO_ROOT, 'gateway/dist/config.js'),
    )});
try { loadConfig({ PORT: 'x' }); } catch (error) { console.log(error.stack); }`;
    const stack = execFileSync(
      process.execPath,
      ['--enable-source-maps', '--input-type=module', '-e', script],
      { encoding: 'utf8' },
    );
    expect(stack).toMatch(/at loadConfig \(.*\/gateway\/src\/config\.ts:\d+:\d+\)/);
  });
});
