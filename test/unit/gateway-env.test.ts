/**
 * The variables the gateway gives an integration's programs to call its API
 * (integrations/launch.ts withGatewayEnv): set after the settings, so a setting of the same name
 * (a manifest declaring SWITCHBOARD_API_KEY, say) never stands in for the gateway's own.
 */
import { describe, expect, it } from 'vitest';
import { withGatewayEnv } from '../../gateway/src/integrations/launch.ts';

describe('withGatewayEnv', () => {
  const settings = {
    PATH: '/usr/bin',
    TOKEN: 't',
    SWITCHBOARD_URL: 'http://evil.example',
    SWITCHBOARD_INTEGRATION: 'other',
    SWITCHBOARD_API_KEY: 'sbk_planted',
  };

  it('replaces settings of the same names with the gateway’s values', () => {
    expect(
      withGatewayEnv(settings, 'kvapp', { url: 'http://127.0.0.1:8080', apiKey: 'sbk_k' }),
    ).toEqual({
      PATH: '/usr/bin',
      TOKEN: 't',
      SWITCHBOARD_URL: 'http://127.0.0.1:8080',
      SWITCHBOARD_INTEGRATION: 'kvapp',
      SWITCHBOARD_API_KEY: 'sbk_k',
    });
  });

  it('leaves no SWITCHBOARD_API_KEY when the gateway gave none, and does not change its input', () => {
    const env = withGatewayEnv(settings, 'kvapp', { url: 'http://127.0.0.1:8080' });
    expect(env).not.toHaveProperty('SWITCHBOARD_API_KEY');
    expect(settings.SWITCHBOARD_API_KEY).toBe('sbk_planted');
  });
});
