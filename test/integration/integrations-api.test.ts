import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, REPO_ROOT, runSwitchboard, useTestGateway } from '../helpers/gateway.ts';

const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/integrations');

describe('/api/v1/integrations and `switchboard integrations`', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: FIXTURES,
    SWITCHBOARD_POLICY: path.join(FIXTURES, 'policy.yaml'),
  });
  const call = (route: string, init: RequestInit = {}) =>
    fetch(`${gw().url}/api/v1${route}`, {
      ...init,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    });
  const cliEnv = () => ({ SWITCHBOARD_URL: gw().url, SWITCHBOARD_API_KEY: ADMIN_KEY });

  it('lists every integration with state, reasons and tools', async () => {
    const res = await call('/integrations');
    expect(res.status).toBe(200);
    const { integrations } = (await res.json()) as { integrations: Array<Record<string, unknown>> };
    expect(integrations.map((i) => [i.name, i.state])).toEqual([
      ['broken', 'refused'],
      ['echo', 'ready'],
      ['needs-setting', 'refused'],
    ]);
    expect(integrations[1]).toMatchObject({ version: '1.0.0', transport: 'stdio' });
    expect([...(integrations[1] as { tools: string[] }).tools].sort()).toEqual([
      'crash',
      'flood',
      'report_env',
      'shout',
      'sleep',
    ]);
  });

  it('shows one integration with its settings masked, and 404 for an unknown one', async () => {
    const res = await call('/integrations/echo');
    const { integration } = (await res.json()) as { integration: { settings: unknown[] } };
    expect(integration.settings).toEqual([
      {
        key: 'ECHO_MODE',
        secret: false,
        required: false,
        source: 'default',
        value: 'loud',
        description: null,
      },
    ]);
    const unknown = await call('/integrations/nope');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({
      error: { code: 'not_found', message: 'no integration named "nope"' },
    });
  });

  it('sets a secret through the CLI, then reload makes the refused integration ready', async () => {
    const set = await runSwitchboard(
      ['integrations', 'settings', 'set', 'needs-setting', 'NEEDS_TOKEN=abc123'],
      cliEnv(),
    );
    expect(set.stderr).toBe('');
    expect(set.stdout).toContain('set needs-setting/NEEDS_TOKEN (secret, stored encrypted)');
    const detail = (await (await call('/integrations/needs-setting')).json()) as {
      integration: { settings: Array<{ value: string }> };
    };
    // Set, but not applied until reload; never shown in clear.
    expect(JSON.stringify(detail)).not.toContain('abc123');
    const reload = await runSwitchboard(['integrations', 'reload', 'needs-setting'], cliEnv());
    expect(reload.code).toBe(0);
    expect(reload.stdout).toMatch(/needs-setting\s+1\.0\.0\s+stdio\s+ready/);
    const list = await runSwitchboard(['integrations', 'list'], cliEnv());
    expect(list.stdout).toMatch(/broken .* refused .* manifest_invalid: .*colour/);
    expect(list.stdout).toMatch(/needs-setting .* ready/);
  });

  it('`integrations validate` prints every error and exits 1, or confirms a valid manifest', async () => {
    const bad = await runSwitchboard(
      ['integrations', 'validate', path.join(FIXTURES, 'broken')],
      {},
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('colour');
    const good = await runSwitchboard(
      ['integrations', 'validate', path.join(FIXTURES, 'echo')],
      {},
    );
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('valid (echo 1.0.0)');
  });

  it('`settings set NAME KEY --stdin` takes the value from standard input, never from argv', async () => {
    // A value with spaces, '=' and a trailing newline (as `echo` and most password tools write).
    const set = await runSwitchboard(
      ['integrations', 'settings', 'set', 'echo', 'ECHO_MODE', '--stdin'],
      cliEnv(),
      'quiet = very\n',
    );
    expect({ code: set.code, stderr: set.stderr }).toEqual({ code: 0, stderr: '' });
    expect(set.stdout).toContain('set echo/ECHO_MODE;');
    const reload = await runSwitchboard(['integrations', 'reload', 'echo'], cliEnv());
    expect(reload.code, reload.stderr).toBe(0);
    const { integration } = (await (await call('/integrations/echo')).json()) as {
      integration: { settings: unknown[] };
    };
    expect(integration.settings).toEqual([
      {
        key: 'ECHO_MODE',
        secret: false,
        required: false,
        source: 'database',
        value: 'quiet = very',
        description: null,
      },
    ]);
  });

  it('`settings set … --stdin` refuses an empty stdin, a KEY=VALUE, and a bare KEY without --stdin', async () => {
    const cases: Array<[string[], string | undefined, string]> = [
      [['echo', 'ECHO_MODE', '--stdin'], '', 'no value on standard input for ECHO_MODE'],
      [['echo', 'ECHO_MODE', '--stdin'], '\n', 'no value on standard input for ECHO_MODE'],
      [['echo', 'ECHO_MODE=loud', '--stdin'], 'x', 'KEY=VALUE and --stdin: give the value one way'],
      [['echo', 'ECHO_MODE'], undefined, 'expected KEY=VALUE, or KEY with --stdin'],
    ];
    for (const [args, input, message] of cases) {
      const r = await runSwitchboard(['integrations', 'settings', 'set', ...args], cliEnv(), input);
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(r.stderr).toContain(message);
    }
  });
});
