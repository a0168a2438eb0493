import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../gateway/src/cli/doctor/finding.ts';
import { runCli } from '../../gateway/src/cli/main.ts';
import { openDatabase } from '../../gateway/src/db/connect.ts';
import { migrate } from '../../gateway/src/db/migrate.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { settingEnvName } from '../../sdk/src/index.ts';
import { type TestDatabase, testDatabase } from '../helpers/database.ts';
import { ADMIN_KEY, REPO_ROOT } from '../helpers/gateway.ts';
import { freePort } from '../helpers/processes.ts';

// `switchboard doctor` against a healthy setup (exit 0) and broken ones, each finding with the fix
// an operator needs. Integration folders are copies of test/fixtures/doctor/greeter inside the
// repository (tsx does not run servers from /tmp), broken on purpose; the database is a real
// migrated PGlite or PostgreSQL database; the port is a real listener.
const ROOT = fs.mkdtempSync(path.join(REPO_ROOT, 'test/fixtures/.generated-doctor-'));
const GREETER = path.join(REPO_ROOT, 'test/fixtures/doctor/greeter');
const HEALTHY = path.join(ROOT, 'healthy');
const BROKEN = path.join(ROOT, 'broken');
const PROBED = path.join(ROOT, 'probed');
const MASTER_KEY = '5a'.repeat(32);

/** A copy of the greeter with `name` and the manifest lines in `extra` appended. */
function integration(root: string, name: string, extra = '', server?: string): void {
  const dir = path.join(root, name);
  fs.cpSync(GREETER, dir, { recursive: true });
  const file = path.join(dir, 'switchboard.yaml');
  let text = fs.readFileSync(file, 'utf8').replace('name: greeter', `name: ${name}`);
  if (server) text = text.replace(/server:\n(?: {2}.*\n)+/, `server:\n${server}`);
  fs.writeFileSync(file, text + extra);
}

function policy(file: string, integrations: string): string {
  const full = path.join(ROOT, file);
  fs.writeFileSync(
    full,
    `apiVersion: switchboard/policy/v1\nintegrations:\n${integrations}tokens: { defaultTtl: 15m, maxTtl: 2h }\n`,
  );
  return full;
}

integration(HEALTHY, 'greeter');
const HEALTHY_POLICY = policy('healthy.yaml', '  greeter: { enabled: true }\n');

// For --probe: a healthy server, and one whose manifest hides a tool the server does not list.
integration(PROBED, 'greeter');
integration(PROBED, 'ghost', 'tools: { hidden: [greet, no_such_tool] }\n');
const PROBED_POLICY = policy(
  'probed.yaml',
  '  greeter: { enabled: true }\n  ghost: { enabled: true }\n',
);

// Broken, one way each.
integration(
  BROKEN,
  'badsecret',
  `  - { key: SIGNING_SECRET, secret: true, required: true }
webhooks:
  - { name: events, verify: { scheme: standard, secret: SIGNING_SECRET }, handler: greet }
tools: { hidden: [greet] }
capabilities: [webhooks]
`,
);
integration(BROKEN, 'needy', '  - { key: API_TOKEN, secret: true, required: true }\n');
integration(
  BROKEN,
  'nocommand',
  '',
  '  transport: stdio\n  command: switchboard-doctor-no-such-program\n',
);
integration(
  BROKEN,
  'greedy',
  'capabilities: [schedules, http.outbound]\noutboundHosts: [api.example.com]\n',
);
const BROKEN_POLICY = policy(
  'broken.yaml',
  `  badsecret: { enabled: true, grants: [webhooks] }
  needy: { enabled: true }
  nocommand: { enabled: true }
  greedy: { enabled: true, grants: [schedules] }
  ghost: { enabled: true }
`,
);

async function doctor(env: Record<string, string | undefined>, ...flags: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['doctor', '--json', ...flags], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  expect(err.join('\n')).toBe('');
  const report = JSON.parse(out.join('\n')) as { ok: boolean; findings: Finding[] };
  return { code, ...report };
}

const errorsOf = (findings: Finding[]) => findings.filter((f) => f.severity === 'error');

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase();
  const log = createLogger('silent');
  const open = await openDatabase({
    databaseUrl: db.env.DATABASE_URL,
    dataDir: db.env.SWITCHBOARD_DATA_DIR,
    log,
  });
  await migrate(open.sql, log);
  await open.close();
});

afterAll(async () => {
  await db?.cleanup();
  fs.rmSync(ROOT, { recursive: true, force: true });
});

describe('switchboard doctor', () => {
  it('passes a healthy setup: exit 0, every check reported', async () => {
    const report = await doctor({
      ...db.env,
      PORT: String(await freePort()),
      INTEGRATION_DIRS: HEALTHY,
      SWITCHBOARD_POLICY: HEALTHY_POLICY,
      SWITCHBOARD_MASTER_KEY: MASTER_KEY,
      SWITCHBOARD_ADMIN_KEY: ADMIN_KEY,
    });
    expect(errorsOf(report.findings)).toEqual([]);
    expect(report.code).toBe(0);
    expect(report.ok).toBe(true);
    const okChecks = report.findings.filter((f) => f.severity === 'ok').map((f) => f.check);
    for (const check of ['config', 'database', 'clock', 'port', 'policy', 'integration greeter'])
      expect(okChecks).toContain(check);
    expect(report.findings).toContainEqual(
      expect.objectContaining({ check: 'database', found: expect.stringMatching(/^migrated/) }),
    );
  });

  it('finds each broken part, with its fix, and exits 1', async () => {
    // A listener that is not Switchboard holds the port (it hangs up on every connection).
    const squatter = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const port = (squatter.address() as net.AddressInfo).port;
    try {
      const report = await doctor({
        ...db.env,
        PORT: String(port),
        INTEGRATION_DIRS: BROKEN,
        SWITCHBOARD_POLICY: BROKEN_POLICY,
        SWITCHBOARD_MASTER_KEY: MASTER_KEY,
        SWITCHBOARD_ADMIN_KEY: ADMIN_KEY,
        [settingEnvName('badsecret', 'SIGNING_SECRET')]: 'not a whsec secret!',
      });
      expect(report.code).toBe(1);
      expect(report.ok).toBe(false);
      const errors = errorsOf(report.findings);
      const find = (check: string, found: RegExp) => {
        const hit = errors.find((f) => f.check === check && found.test(f.found));
        expect(hit, `${check} ${found}: ${JSON.stringify(errors, null, 2)}`).toBeDefined();
        return hit!;
      };

      // The port: taken by something that is not a gateway.
      expect(find('port', /in use by another program/).fix).toMatch(/set PORT to a free port/);

      // A Standard Webhooks secret that is not whsec_ + base64.
      const secret = find('integration badsecret', /^setting_invalid: setting SIGNING_SECRET/);
      expect(secret.found).toMatch(/not base64/);
      expect(secret.fix).toMatch(
        /^switchboard integrations settings set badsecret SIGNING_SECRET --stdin .*whsec_/,
      );

      // A required setting with no value anywhere.
      expect(find('integration needy', /^setting_missing: required setting API_TOKEN/).fix).toBe(
        `switchboard integrations settings set needy API_TOKEN --stdin (or set ${settingEnvName('needy', 'API_TOKEN')} in the gateway's environment)`,
      );

      // A server command that is nowhere on PATH.
      const command = find('integration nocommand', /server.command .* is not on PATH/);
      expect(command.fix).toContain(path.join(BROKEN, 'nocommand', 'switchboard.yaml'));

      // Capabilities and hosts the policy does not grant: decide()'s reasons, the policy's field.
      expect(find('integration greedy', /capability_not_granted: .*"http.outbound"/).fix).toBe(
        `add the capability to integrations.greedy.grants in ${BROKEN_POLICY} (or drop it from capabilities in the manifest)`,
      );
      expect(find('integration greedy', /outbound_host_not_granted/).fix).toContain(
        'integrations.greedy.outboundHosts',
      );
      // Nothing else is wrong with them, so no other error names them.
      expect(errors.filter((f) => f.check === 'integration greedy')).toHaveLength(2);

      // A policy entry with no folder: a warning (the gateway starts), with where to look.
      expect(report.findings).toContainEqual(
        expect.objectContaining({
          severity: 'warning',
          check: 'policy',
          found: expect.stringMatching(/integrations.ghost is enabled but no folder/),
        }),
      );
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('--probe starts each granted server and finds a tool the manifest names but it lacks', async () => {
    const report = await doctor(
      {
        ...db.env,
        PORT: String(await freePort()),
        INTEGRATION_DIRS: PROBED,
        SWITCHBOARD_POLICY: PROBED_POLICY,
        SWITCHBOARD_MASTER_KEY: MASTER_KEY,
        SWITCHBOARD_ADMIN_KEY: ADMIN_KEY,
      },
      '--probe',
    );
    expect(report.code).toBe(1);
    expect(report.findings).toContainEqual({
      severity: 'ok',
      check: 'integration greeter',
      found: 'server started and listed 1 tool (--probe)',
    });
    expect(errorsOf(report.findings)).toEqual([
      {
        severity: 'error',
        check: 'integration ghost',
        found:
          'handler_missing: tools.hidden[1] names the tool no_such_tool, which the server does not list (it lists: greet)',
        fix: `add the tool to the server, or correct the name in ${path.join(PROBED, 'ghost')}/switchboard.yaml`,
      },
    ]);
  }, 30_000);

  it('reports an unreachable database (a closed port) as an error, within the bound', async () => {
    const closed = await freePort();
    const report = await doctor({
      DATABASE_URL: `postgres://postgres@127.0.0.1:${closed}/switchboard`,
      PORT: String(await freePort()),
      INTEGRATION_DIRS: HEALTHY,
      SWITCHBOARD_POLICY: HEALTHY_POLICY,
      SWITCHBOARD_MASTER_KEY: MASTER_KEY,
      SWITCHBOARD_ADMIN_KEY: ADMIN_KEY,
    });
    expect(report.code).toBe(1);
    const [finding] = errorsOf(report.findings);
    expect(finding).toMatchObject({
      check: 'database',
      found: expect.stringMatching(new RegExp(`cannot reach DATABASE_URL: .*${closed}`)),
      fix: expect.stringMatching(/start the PostgreSQL server, or correct .* DATABASE_URL/),
    });
    // The integrations are still judged without the stored settings.
    expect(report.findings).toContainEqual(
      expect.objectContaining({ severity: 'ok', check: 'integration greeter' }),
    );
  }, 30_000);

  it('reports a configuration that does not load, one error per variable', async () => {
    const report = await doctor({
      PORT: 'eighty',
      SWITCHBOARD_MASTER_KEY: 'short',
      SWITCHBOARD_POLICY: HEALTHY_POLICY,
    });
    expect(report.code).toBe(1);
    expect(report.findings.map((f) => [f.severity, f.found.split('=')[0]])).toEqual([
      ['error', 'PORT'],
      ['error', 'SWITCHBOARD_MASTER_KEY'],
    ]);
    expect(report.findings[1]!.fix).toMatch(
      /^set SWITCHBOARD_MASTER_KEY in the gateway's environment/,
    );
    expect(report.findings[1]!.found).not.toContain('short');
  });
});
