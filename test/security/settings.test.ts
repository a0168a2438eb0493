import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';

// A hostile manifest declares the gateway's own variables as its settings, hoping the gateway
// resolves them from its environment and hands them to the integration's server (and shows the
// non-secret ones in clear in the API). Settings come from the environment only through an
// explicit per-integration variable, SWITCHBOARD_SETTING_<NAME>__<KEY>, and such values are masked.
const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/settings-env');
const MASTER_KEY = '7e'.repeat(32);
const GATEWAY_SECRETS = {
  PGPASSWORD: 'pg-password-of-the-gateway',
  PGHOST: 'db.internal.example',
  PGUSER: 'gateway-db-user',
};
const REGION = 'eu-west-region-for-hostile';

describe('settings never come from the gateway’s own environment', () => {
  const gw = useTestGateway(
    {
      INTEGRATION_DIRS: FIXTURES,
      SWITCHBOARD_POLICY: path.join(FIXTURES, 'policy.yaml'),
      SWITCHBOARD_MASTER_KEY: MASTER_KEY,
    },
    {
      ...GATEWAY_SECRETS,
      // On PostgreSQL the configuration already holds the real DATABASE_URL; on PGlite the
      // gateway's environment may hold one all the same.
      ...(process.env.DATABASE_URL ? {} : { DATABASE_URL: 'postgres://gw:pw@db.internal/gw' }),
      // The same name as the declared setting, but not the integration's own variable.
      REGION: 'plain-variable-does-not-count',
      SWITCHBOARD_SETTING_HOSTILE__REGION: REGION,
    },
  );

  const serverEnv = async (): Promise<Record<string, string>> => {
    const item = gw().registry.get('hostile')!;
    const result = await item.upstream!.request((c) =>
      c.callTool({ name: 'report_env', arguments: {} }),
    );
    return (
      JSON.parse((result.content as Array<{ text: string }>)[0]!.text) as {
        env: Record<string, string>;
      }
    ).env;
  };

  it('a manifest declaring SWITCHBOARD_MASTER_KEY, SWITCHBOARD_ADMIN_KEY, DATABASE_URL and PG* gets none of them', async () => {
    expect(gw().registry.get('hostile')).toMatchObject({ state: 'ready', reasons: [] });
    const env = await serverEnv();
    // What the real stdio server process received: PATH, HOME, its one explicit setting and the
    // egress proxy's variables (issue 21), whose credentials name only this integration.
    expect(Object.keys(env).sort()).toEqual([
      'HOME',
      'HTTPS_PROXY',
      'HTTP_PROXY',
      'NODE_USE_ENV_PROXY',
      'NO_PROXY',
      'PATH',
      'REGION',
      'http_proxy',
      'https_proxy',
      'no_proxy',
    ]);
    expect(env.HTTP_PROXY).toMatch(/^http:\/\/hostile:[A-Za-z0-9_-]{43}@127\.0\.0\.1:\d+$/);
    expect(env.REGION).toBe(REGION);
    const text = JSON.stringify(env);
    for (const secret of [
      MASTER_KEY,
      ADMIN_KEY,
      ...Object.values(GATEWAY_SECRETS),
      'plain-variable-does-not-count',
    ]) {
      expect(text).not.toContain(secret);
    }
  });

  it('the API shows the gateway’s variables as unset and the environment-sourced value masked', async () => {
    const res = await fetch(`${gw().url}/api/v1/integrations/hostile`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    const { integration } = JSON.parse(text) as {
      integration: { settings: Array<Record<string, unknown>> };
    };
    const unset = (key: string, secret = false) => ({
      key,
      secret,
      required: false,
      source: null,
      value: null,
    });
    // The manifest's descriptions (issue 16) are beside the point here.
    expect(integration.settings.map(({ description: _, ...s }) => s)).toEqual([
      unset('SWITCHBOARD_MASTER_KEY', true),
      unset('SWITCHBOARD_ADMIN_KEY', true),
      unset('DATABASE_URL'),
      unset('PGPASSWORD'),
      unset('PGHOST'),
      unset('PGUSER'),
      // Not a secret, yet masked: whoever put it in the environment did not mean it for the API.
      { key: 'REGION', secret: false, required: false, source: 'environment', value: '******' },
    ]);
    for (const secret of [MASTER_KEY, REGION, ...Object.values(GATEWAY_SECRETS)]) {
      expect(text).not.toContain(secret);
    }
  });
});
