/**
 * CPU of one aggregate `tools/list` page over big-but-allowed catalogs (issue 13 item 3):
 * N copies of the hostile fixture listing 1,000 tools each (`HOSTILE_TOOLS=998` + echo, sleep;
 * `--integrations N`, default 1) beside a quiet copy (2 tools), one gateway in this process. Prints the CPU (user + system of this process:
 * the gateway and the client together) per request of page 1 and page 6 of /mcp, and of
 * /mcp/quiet's list as the floor a request costs anyway. Asserts nothing.
 *
 *   npx tsx test/bench/catalog-page.ts [--integrations 1] [--requests 300] [--database-url postgres://…]
 *
 * Without --database-url the gateway creates an embedded PGlite in a temporary folder.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../gateway/src/config.ts';
import { startGateway } from '../../gateway/src/gateway.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { copyHostileFixture } from '../helpers/hostile-copy.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef0123456789abcdef0123456789abcdef';
const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '300' },
    /** Copies of the 1,000-tool integration (big1 … bigN) in the aggregate. */
    integrations: { type: 'string', default: '1' },
    'database-url': { type: 'string' },
  },
});
const REQUESTS = Number(values.requests);
const BIG = Array.from({ length: Number(values.integrations) }, (_, i) => `big${i + 1}`);
const BIG_SETTINGS = { HOSTILE_TOOLS: '998', HOSTILE_PAGE: '100' };

function integrations(): { dirs: string; policy: string; root: string } {
  const root = fs.mkdtempSync(path.join(ROOT, 'test/fixtures/.generated-hostile-bench-'));
  const all: Array<[string, Record<string, string>]> = [
    ...BIG.map((name): [string, Record<string, string>] => [name, BIG_SETTINGS]),
    ['quiet', {}],
  ];
  for (const [name, settings] of all)
    copyHostileFixture(path.join(root, 'integrations'), name, settings);
  const policy = path.join(root, 'policy.yaml');
  fs.writeFileSync(
    policy,
    `apiVersion: switchboard/policy/v1
integrations:
${BIG.map((name) => `  ${name}: { enabled: true, settings: { HOSTILE_TOOLS: "998", HOSTILE_PAGE: "100" } }`).join('\n')}
  quiet: { enabled: true }
tokens: { defaultTtl: 15m, maxTtl: 2h }
`,
  );
  return { dirs: path.join(root, 'integrations'), policy, root };
}

async function list(url: string, token: string, cursor?: string): Promise<{ nextCursor?: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-11-25',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/list',
      ...(cursor && { params: { cursor } }),
    }),
  });
  const body = (await res.json()) as { result?: { nextCursor?: string }; error?: unknown };
  if (!body.result) throw new Error(`tools/list failed: ${JSON.stringify(body.error)}`);
  return body.result;
}

/** µs of CPU (user + system) per request, over REQUESTS requests after 20 to warm up. */
async function cpuPerRequest(run: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 20; i++) await run();
  const before = process.cpuUsage();
  for (let i = 0; i < REQUESTS; i++) await run();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / REQUESTS;
}

const { dirs, policy, root } = integrations();
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-bench-'));
const env = {
  PORT: '0',
  LOG_LEVEL: 'error',
  INTEGRATION_DIRS: dirs,
  SWITCHBOARD_POLICY: policy,
  SWITCHBOARD_ADMIN_KEY: ADMIN_KEY,
  SWITCHBOARD_MASTER_KEY: '5a'.repeat(32),
  SWITCHBOARD_DATA_DIR: dataDir,
  ...(values['database-url'] && { DATABASE_URL: values['database-url'] }),
};
const config = loadConfig(env, ROOT);
const gateway = await startGateway(config, createLogger('error'), { ...process.env, ...env });
try {
  await gateway.registry.whenSettled();
  const res = await fetch(`${gateway.url}/api/v1/tasks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ external: true, scope: [...BIG.map((n) => `${n}:*`), 'quiet:*'] }),
  });
  const granted = (await res.json()) as {
    mcp: { url: string; token: string };
    integrations: Array<{ name: string; url: string; token: string }>;
  };
  const { url, token } = granted.mcp;
  // The cursor of page 6 (tools 500–599), walked once.
  let cursor: string | undefined;
  for (let page = 1; page < 6; page++) cursor = (await list(url, token, cursor)).nextCursor;
  const quiet = granted.integrations.find((i) => i.name === 'quiet')!;
  // Three rounds in turn; the least of each (the machine is shared: more is someone else's).
  const runs = { floor: [] as number[], first: [] as number[], sixth: [] as number[] };
  for (let round = 0; round < 3; round++) {
    runs.floor.push(await cpuPerRequest(() => list(quiet.url, quiet.token)));
    runs.first.push(await cpuPerRequest(() => list(url, token)));
    runs.sixth.push(await cpuPerRequest(() => list(url, token, cursor)));
  }
  const [floor, first, sixth] = [runs.floor, runs.first, runs.sixth].map((r) => Math.min(...r)) as [
    number,
    number,
    number,
  ];
  const fmt = (us: number) => `${(us / 1000).toFixed(2)} ms`;
  console.log(
    `| request | CPU per request (gateway + client), least of 3 × ${REQUESTS} requests |`,
  );
  console.log('|---|---|');
  console.log(`| /mcp/quiet tools/list (2 tools, the floor) | ${fmt(floor)} |`);
  console.log(`| /mcp tools/list page 1 (${BIG.length * 1000 + 2} tools) | ${fmt(first)} |`);
  console.log(`| /mcp tools/list page 6 | ${fmt(sixth)} |`);
} finally {
  await gateway.shutdown.run('bench');
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(dataDir, { recursive: true, force: true });
}
