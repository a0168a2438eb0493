import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey, looksLikeApiKey } from '../../gateway/src/keys/format.ts';
import { hasScope, isValidGrant } from '../../gateway/src/keys/scopes.ts';

describe('API key format', () => {
  it('makes 256-bit keys whose stored form is their SHA-256', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(a.key).toMatch(/^sbk_[A-Za-z0-9_-]{43}$/);
    expect(a.key).not.toBe(b.key);
    expect(a.prefix).toBe(a.key.slice(0, 12));
    expect(a.hash).toEqual(createHash('sha256').update(a.key).digest());
    expect(hashApiKey(a.key)).toEqual(a.hash);
    expect(looksLikeApiKey(a.key)).toBe(true);
    expect(looksLikeApiKey(`${a.key}x`)).toBe(false);
    expect(looksLikeApiKey('Bearer')).toBe(false);
  });
});

describe('API scopes', () => {
  it.each([
    [['*'], 'keys:write', true],
    [['keys:*'], 'keys:write', true],
    [['keys:read'], 'keys:read', true],
    [['keys:write'], 'keys:read', false],
    [['keys:read'], 'keys:write', false],
    [['audit:*'], 'keys:read', false],
    [[], 'keys:read', false],
  ] as const)('%j grants %s: %s', (grants, required, expected) => {
    expect(hasScope(grants, required)).toBe(expected);
  });

  it('accepts only known resources and verbs', () => {
    expect(isValidGrant('*')).toBe(true);
    expect(isValidGrant('tasks:write')).toBe(true);
    expect(isValidGrant('tasks:*')).toBe(true);
    expect(isValidGrant('task:write')).toBe(false);
    expect(isValidGrant('tasks:delete')).toBe(false);
    expect(isValidGrant('*:*')).toBe(false);
    expect(isValidGrant('keys:read ')).toBe(false);
  });
});
