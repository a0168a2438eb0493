import { stringify } from 'yaml';
import { type Bundle, serverToken } from '../bundle.ts';

/**
 * goose `config.yaml` (REFERENCES §D 6.4): `extensions` is a map keyed by name, `type:
 * streamable_http`, `uri` (not url). goose does not expand `${}` in this file, so the bearer
 * header holds the literal token: this is the bundle's one secret file. The `yaml` package
 * quotes whatever needs quoting.
 */

/** Seconds goose waits for a call; 300 is goose's own default for extensions. */
const TIMEOUT_SEC = 300;

export function renderGoose(bundle: Bundle): string {
  const extensions: Record<string, unknown> = {};
  for (const s of bundle.servers)
    extensions[s.name] = {
      enabled: true,
      type: 'streamable_http',
      name: s.name,
      uri: s.url,
      headers: { Authorization: `Bearer ${serverToken(bundle, s)}` },
      envs: {},
      env_keys: [],
      timeout: TIMEOUT_SEC,
    };
  return stringify({ extensions }, { lineWidth: 0 });
}
