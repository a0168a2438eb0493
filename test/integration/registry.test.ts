import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntegrationRegistry } from '../../gateway/src/integrations/registry.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { setSetting } from '../../gateway/src/settings/service.ts';
import { useMigratedDatabase } from '../helpers/database.ts';
import { REPO_ROOT } from '../helpers/gateway.ts';

const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/integrations');
const log = createLogger('silent');
const masterKey = Buffer.alloc(32, 3);

describe('integration registry', () => {
  const database = useMigratedDatabase();
  let registry: IntegrationRegistry;

  beforeAll(async () => {
    registry = new IntegrationRegistry({
      sql: database().sql,
      log,
      config: { integrationDirs: [FIXTURES], policyPath: path.join(FIXTURES, 'policy.yaml') },
      masterKey,
      gatewayUrl: () => 'http://127.0.0.1:9',
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: 'postgres://leak' },
    });
    await registry.loadAll();
    await registry.whenSettled();
  });
  afterAll(async () => {
    await registry?.stopAll();
  });

  it('serves the good integration while the others are refused, each with its reason', () => {
    const states = registry.list().map((i) => [i.name, i.state, i.reasons.map((r) => r.code)]);
    expect(states).toEqual([
      ['broken', 'refused', ['manifest_invalid']],
      ['echo', 'ready', []],
      ['needs-setting', 'refused', ['setting_missing']],
    ]);
    expect(registry.get('needs-setting')?.reasons[0]?.message).toContain('NEEDS_TOKEN');
    expect(registry.get('broken')?.reasons[0]?.message).toContain('colour');
    // `_draft` is skipped by its folder name.
    expect(registry.get('draft')).toBeUndefined();
  });

  it('lists the tools of a ready integration and calls them over stdio', async () => {
    const echo = registry.get('echo')!;
    expect(echo.tools.map((t) => t.name).sort()).toEqual([
      'crash',
      'flood',
      'report_env',
      'shout',
      'sleep',
    ]);
    const result = await echo.upstream!.request((c) =>
      c.callTool({ name: 'report_env', arguments: {} }),
    );
    const { env } = JSON.parse((result.content as Array<{ text: string }>)[0]!.text) as {
      env: Record<string, string>;
    };
    // The declared setting (its manifest default) and nothing of the gateway's own.
    expect(Object.keys(env).sort()).toEqual(['ECHO_MODE', 'HOME', 'PATH']);
    expect(env.ECHO_MODE).toBe('loud');
  });

  it('picks up a setting on reload: the refused integration becomes ready', async () => {
    await setSetting(database().sql, {
      integration: 'needs-setting',
      declared: registry.get('needs-setting')!.manifest!.settings,
      key: 'NEEDS_TOKEN',
      value: 's3cret',
      masterKey,
      actor: 'test',
    });
    const reloaded = await registry.reload('needs-setting');
    expect(reloaded).toMatchObject({ state: 'ready', reasons: [] });
  });

  it('later roots override earlier ones by manifest name', async () => {
    const root = fs.mkdtempSync(path.join(FIXTURES, '..', '.override-'));
    try {
      fs.mkdirSync(path.join(root, 'other-folder'));
      fs.writeFileSync(
        path.join(root, 'other-folder', 'switchboard.yaml'),
        fs
          .readFileSync(path.join(FIXTURES, 'echo', 'switchboard.yaml'), 'utf8')
          .replace('1.0.0', '2.0.0'),
      );
      const layered = new IntegrationRegistry({
        sql: database().sql,
        log,
        config: {
          integrationDirs: [FIXTURES, root],
          policyPath: path.join(FIXTURES, 'policy.yaml'),
        },
        masterKey,
        gatewayUrl: () => 'http://127.0.0.1:9',
        env: { PATH: process.env.PATH },
      });
      await layered.loadAll();
      await layered.whenSettled();
      const echo = layered.get('echo')!;
      expect(echo.manifest?.version).toBe('2.0.0');
      expect(echo.overrides).toEqual([path.join(FIXTURES, 'echo')]);
      await layered.stopAll();
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses every integration, naming the file, when the policy file is invalid', async () => {
    const policyPath = path.join(
      fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-policy-')),
      'policy.yaml',
    );
    fs.writeFileSync(
      policyPath,
      'apiVersion: switchboard/policy/v1\ntokens: { defaultTtl: soon }\n',
    );
    const broken = new IntegrationRegistry({
      sql: database().sql,
      log,
      config: { integrationDirs: [FIXTURES], policyPath },
      masterKey,
      gatewayUrl: () => 'http://127.0.0.1:9',
      env: {},
    });
    await broken.loadAll();
    const echo = broken.get('echo')!;
    expect(echo.state).toBe('refused');
    expect(echo.reasons).toEqual([
      {
        code: 'policy_invalid',
        message: expect.stringContaining(`${policyPath}: tokens.defaultTtl`),
      },
    ]);
    await broken.stopAll();
  });

  it('judges integrations without waiting for their servers: a slow one is `starting` meanwhile', async () => {
    const root = path.join(REPO_ROOT, 'test/fixtures/slow-integrations');
    const slow = new IntegrationRegistry({
      sql: database().sql,
      log,
      config: { integrationDirs: [root], policyPath: path.join(root, 'policy.yaml') },
      masterKey,
      gatewayUrl: () => 'http://127.0.0.1:9',
      env: { PATH: process.env.PATH },
    });
    await slow.loadAll();
    expect(slow.get('slow')?.state).toBe('starting');
    await slow.whenSettled();
    expect(slow.get('slow')?.state).toBe('ready');
    await slow.stopAll();
  });
});
