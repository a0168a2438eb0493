import { createHash, randomBytes } from 'node:crypto';

/**
 * Operator API keys look like `sbk_<43 base64url chars>`: 256 random bits, so a plain SHA-256 is
 * enough to store them (no salt or slow hash needed: there is nothing to brute-force). Keys the
 * gateway provisions for an integration's processes carry its name, `sbk_<integration>_<43>`,
 * so a log line or a key list shows whose key it is. The public prefix is everything before the
 * random part plus its first 8 characters (12 characters for an operator key): the name alone
 * would not be unique, and it is shown in lists and used to revoke the key.
 */
export const KEY_PREFIX = 'sbk_';
const RANDOM_CHARS = 43;
const PREFIX_RANDOM_CHARS = 8;
// Integration names are [a-z][a-z0-9-]{1,40} (no `_`), and the random part is exactly 43
// characters, so the two forms cannot be mistaken for each other.
const KEY_PATTERN = /^sbk_(?:[a-z][a-z0-9-]{1,40}_)?[A-Za-z0-9_-]{43}$/;

export function generateApiKey(integration?: string): {
  key: string;
  prefix: string;
  hash: Buffer;
} {
  const owner = integration === undefined ? '' : `${integration}_`;
  const key = KEY_PREFIX + owner + randomBytes(32).toString('base64url');
  return { key, prefix: keyPrefix(key), hash: hashApiKey(key) };
}

export function keyPrefix(key: string): string {
  return key.slice(0, key.length - RANDOM_CHARS + PREFIX_RANDOM_CHARS);
}

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

export function looksLikeApiKey(value: string): boolean {
  return KEY_PATTERN.test(value);
}

/**
 * SWITCHBOARD_ADMIN_KEY is chosen by the operator and may be short on entropy, so none of its
 * characters are shown: its public prefix is derived from its hash instead.
 */
export function envKeyPrefix(key: string): string {
  return `env_${hashApiKey(key).toString('hex').slice(0, 8)}`;
}
