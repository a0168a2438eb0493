import { createHash, randomBytes } from 'node:crypto';

/**
 * Operator API keys look like `sbk_<43 base64url chars>`: 256 random bits, so a plain SHA-256 is
 * enough to store them (no salt or slow hash needed: there is nothing to brute-force). The first
 * 12 characters are the key's public prefix, shown in lists and used to revoke it.
 */
export const KEY_PREFIX = 'sbk_';
const KEY_PATTERN = /^sbk_[A-Za-z0-9_-]{43}$/;

export function generateApiKey(): { key: string; prefix: string; hash: Buffer } {
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  return { key, prefix: keyPrefix(key), hash: hashApiKey(key) };
}

export function keyPrefix(key: string): string {
  return key.slice(0, 12);
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
