/**
 * Issue 18: `switchboard init <name>` scaffolds an integration that works as it is. Per
 * language: init into a folder inside the repository (tsx refuses folders under /tmp), the
 * manifest validates, a gateway over that folder shows the integration ready, a webhook sent
 * with `switchboard webhook send` (the gateway signs it) becomes a delivery and a task, and an
 * agent's tool call through /mcp/<name> with the task's token reaches the server with the task
 * in `_meta`. The rendered
 * folder's own test (real stdio client, sdk testing utilities) passes too. Refusals: a bad
 * name, a non-empty folder, an unknown --lang.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../gateway/src/cli/main.ts';
import { testDatabase } from '../helpers/database.ts';
import {
  ADMIN_KEY,
  REPO_ROOT,
  runSwitchboard,
  startTestGateway,
  type TestGateway,
} from '../helpers/gateway.ts';
import { grantTask, integrationOf } from '../helpers/mcp-gateway.ts';

const run = promisify(execFile);

/** The CLI in this process, from the repository root like the bin in runSwitchboard. */
async function cli(argv: string[], env: NodeJS.ProcessEnv) {
  expect(process.cwd()).toBe(REPO_ROOT.replace(/\/$/, ''));
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    env,
    out: (text) => {
      stdout += `${text}\n`;
    },
    err: (text) => {
      stderr += `${text}\n`;
    },
  });
  return { code, stdout, stderr };
}
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const PARENT = path.join(REPO_ROOT, `test/fixtures/tmp-init-${randomUUID().slice(0, 8)}`);
const TEMPLATES = path.join(REPO_ROOT, 'gateway/templates');

interface Row {
  lang: 'typescript' | 'python';
  name: string;
  /** The folder's own test, run inside it. */
  selfTest: { command: string; args: string[] };
}

const ROWS: Row[] = [
  {
    lang: 'typescript',
    name: 'init-ts',
    selfTest: {
      command: process.execPath,
      args: ['--import', 'tsx', '--test', 'test/server.test.ts'],
    },
  },
  {
    lang: 'python',
    name: 'init-py',
    // -B: no __pycache__ in the folder (a folder pinned by sha256 must not change).
    selfTest: { command: 'python3', args: ['-B', '-m', 'unittest'] },
  },
];

const POLICY = (names: string[]) => `apiVersion: switchboard/policy/v1
integrations:
${names
  .map(
    (name) => `  ${name}:
    enabled: true
    grants: [webhooks, dispatch, sessions.write]
    profile: held
    settings: { WEBHOOK_SECRET: "${SECRET}" }`,
  )
  .join('\n')}
tokens: { defaultTtl: 15m, maxTtl: 2h }
profiles:
  held:
    # Never started (an unknown placeholder): the tasks deliveries create stay pending.
    runner: { driver: process, command: "true", args: ["{held_for_the_init_tests}"] }
    tools: [${names.map((n) => `"${n}:*"`).join(', ')}]
`;

describe('switchboard init (issue 18)', () => {
  let gw: TestGateway | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  const initOutput = new Map<string, string>();

  beforeAll(async () => {
    fs.mkdirSync(PARENT, { recursive: true });
    for (const row of ROWS) {
      const res = await runSwitchboard(['init', row.name, '--lang', row.lang, '--dir', PARENT], {});
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      initOutput.set(row.name, res.stdout);
    }
    fs.writeFileSync(path.join(PARENT, 'policy.yaml'), POLICY(ROWS.map((r) => r.name)));
    const db = await testDatabase();
    cleanup = db.cleanup;
    gw = await startTestGateway({
      ...db.env,
      SWITCHBOARD_ADMIN_KEY: ADMIN_KEY,
      INTEGRATION_DIRS: PARENT,
      SWITCHBOARD_POLICY: path.join(PARENT, 'policy.yaml'),
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await cleanup?.();
    fs.rmSync(PARENT, { recursive: true, force: true });
  });

  const gateway = () => {
    if (!gw) throw new Error('the gateway did not start');
    return gw;
  };

  describe.each(ROWS)('--lang $lang', (row) => {
    const dir = path.join(PARENT, row.name);

    it('prints what it created and the next steps', () => {
      const out = initOutput.get(row.name)!;
      expect(out).toContain(`Created ${path.relative(REPO_ROOT, dir)} (${row.lang}):`);
      expect(out).toContain(path.relative(REPO_ROOT, path.join(dir, 'switchboard.yaml')));
      expect(out).toContain(`switchboard integrations validate`);
      expect(out).toMatch(new RegExp(`${row.name}:\\n\\s+enabled: true`));
      expect(out).toContain(`switchboard webhook send ${row.name} events`);
      // Every template file landed, `.tmpl` dropped and the name filled in.
      const manifest = fs.readFileSync(path.join(dir, 'switchboard.yaml'), 'utf8');
      expect(manifest).toContain(`name: ${row.name}`);
      expect(manifest).not.toContain('{{name}}');
      const rendered = fs.readdirSync(dir, { recursive: true }).map(String);
      expect(rendered.filter((f) => f.endsWith('.tmpl'))).toEqual([]);
      const templates = fs.readdirSync(path.join(TEMPLATES, row.lang), { recursive: true });
      for (const t of templates.map(String).filter((f) => f.endsWith('.tmpl'))) {
        expect(rendered).toContain(t.slice(0, -'.tmpl'.length));
      }
    });

    it('integrations validate passes', async () => {
      const res = await runSwitchboard(['integrations', 'validate', dir], {});
      expect(res.stderr).toBe('');
      expect(res.stdout).toContain(`valid (${row.name} 0.1.0)`);
      expect(res.code).toBe(0);
    });

    it('a gateway shows it ready, with its tool and its handlers hidden', async () => {
      const res = await fetch(`${gateway().url}/api/v1/integrations/${row.name}`, {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      });
      expect(res.status).toBe(200);
      const { integration } = (await res.json()) as {
        integration: { state: string; tools: string[]; reasons: unknown[] };
      };
      expect(integration.reasons).toEqual([]);
      expect(integration.state).toBe('ready');
      expect(integration.tools).toContain('hello');
      expect(integration.tools).not.toContain('on_webhook');
    });

    it('switchboard webhook send: signed by the gateway, a delivery, a session message and a task', async () => {
      const thread = `t-${randomUUID().slice(0, 8)}`;
      const body = JSON.stringify({ text: 'Deploy 42 finished', thread });
      const sent = await runSwitchboard(['webhook', 'send', row.name, 'events', '--data', body], {
        SWITCHBOARD_URL: gateway().url,
        SWITCHBOARD_ADMIN_KEY: ADMIN_KEY,
      });
      expect(sent.stderr).toBe('');
      expect(sent.code).toBe(0);
      expect(sent.stdout).toContain('HTTP 202');
      const id = /^delivery (\S+) done/m.exec(sent.stdout)?.[1];
      expect(id, sent.stdout).toBeDefined();
      await expect
        .poll(
          async () =>
            (
              await gateway().sql<{ status: string; error: string | null }[]>`
                  select status, error from webhook_deliveries where id = ${id!}`
            )[0],
          { timeout: 20_000 },
        )
        .toEqual({ status: 'done', error: null });
      const tasks = await gateway().sql<{ status: string; prompt: string; key: string }[]>`
          select t.status, t.prompt, s.key from tasks t join sessions s on s.id = t.session_id
           where s.key = ${`${row.name}:${thread}`}`;
      expect(tasks).toEqual([
        { status: 'pending', prompt: 'Deploy 42 finished', key: `${row.name}:${thread}` },
      ]);
    });

    it('a tool call through /mcp/<name> with a task token reaches it with the task', async () => {
      const granted = await grantTask(gateway(), [`${row.name}:*`]);
      const { url, token } = integrationOf(granted, row.name);
      const client = new Client({ name: 'init-test', version: '0.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(url), {
          requestInit: { headers: { authorization: `Bearer ${token}` } },
        }),
      );
      try {
        const result = await client.callTool({ name: 'hello', arguments: { name: 'Ada' } });
        expect(result.isError ?? false).toBe(false);
        expect(result.structuredContent).toEqual({
          greeting: 'Hello, Ada!',
          taskId: granted.task.id,
        });
      } finally {
        await client.close();
      }
    });

    it("the folder's own test passes", async () => {
      // Exits non-zero (and rejects, with the output) on any failure; node:test reports on
      // stdout, unittest on stderr.
      const { stdout, stderr } = await run(row.selfTest.command, row.selfTest.args, {
        cwd: dir,
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
      });
      expect(`${stdout}${stderr}`).toMatch(/\bfail 0\b|^OK$/m);
    });
  });

  // In this process (runCli, as the bin runs it): each real CLI start costs seconds here.
  describe('refusals', () => {
    const init = (args: string[], env: NodeJS.ProcessEnv = {}) => cli(['init', ...args], env);

    it('a bad name: says the rule, writes nothing', async () => {
      for (const name of ['Bad_Name', 'x', 'a--b', 'trailing-', '../escape']) {
        const res = await init([name, '--dir', PARENT]);
        expect(res.code).toBe(2);
        expect(res.stderr).toContain(`invalid integration name ${JSON.stringify(name)}`);
        expect(res.stderr).toContain('lowercase letter');
        expect(fs.existsSync(path.join(PARENT, name))).toBe(false);
      }
    });

    it('an existing non-empty folder: refused, left as it was', async () => {
      const taken = path.join(PARENT, 'taken');
      fs.mkdirSync(taken, { recursive: true });
      fs.writeFileSync(path.join(taken, 'keep.txt'), 'mine');
      const res = await init(['taken', '--dir', PARENT]);
      expect(res.code).toBe(2);
      expect(res.stderr).toContain(`${taken} already exists and is not empty`);
      expect(fs.readdirSync(taken)).toEqual(['keep.txt']);
      fs.rmSync(taken, { recursive: true });
    });

    it('an unknown --lang: names the choices', async () => {
      const res = await init(['fine-name', '--lang', 'cobol', '--dir', PARENT]);
      expect(res.code).toBe(2);
      expect(res.stderr).toContain('unknown --lang "cobol": expected typescript or python');
      expect(fs.existsSync(path.join(PARENT, 'fine-name'))).toBe(false);
    });

    it('without --dir it writes into the first folder of INTEGRATION_DIRS', async () => {
      const first = path.join(PARENT, 'first');
      const res = await init(['via-env'], {
        INTEGRATION_DIRS: `${first}:${path.join(PARENT, 'second')}`,
      });
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      expect(fs.existsSync(path.join(first, 'via-env/switchboard.yaml'))).toBe(true);
      expect(res.stdout).not.toContain('is not in INTEGRATION_DIRS');
      fs.rmSync(first, { recursive: true });
    });
  });
});
