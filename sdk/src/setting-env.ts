/**
 * The one environment variable an integration's setting may come from. Never the setting's own
 * name: a manifest could declare SWITCHBOARD_MASTER_KEY, DATABASE_URL or PGPASSWORD and receive
 * the gateway's. Instead `SWITCHBOARD_SETTING_<NAME>__<KEY>`, NAME = the integration name in
 * upper case with `-` → `_` (`my-tool` → `MY_TOOL`), KEY exactly as declared:
 *
 *   github / GITHUB_TOKEN    → SWITCHBOARD_SETTING_GITHUB__GITHUB_TOKEN
 *   my-tool / API_URL        → SWITCHBOARD_SETTING_MY_TOOL__API_URL
 *
 * Integration names are lowercase letters and digits with single `-` between them (sdk
 * INTEGRATION_NAME), so NAME never holds `__` nor ends in `_`: the first `__` always ends it, and
 * two (integration, key) pairs never share a variable (`foo`/`BAR_BAZ` → FOO__BAR_BAZ,
 * `foo-bar`/`BAZ` → FOO_BAR__BAZ).
 */
export const SETTING_ENV_PREFIX = 'SWITCHBOARD_SETTING_';

export function settingEnvName(integration: string, key: string): string {
  return `${SETTING_ENV_PREFIX}${integration.toUpperCase().replaceAll('-', '_')}__${key}`;
}
