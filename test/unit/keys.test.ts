import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  generateApiKey,
  hashApiKey,
  keyPrefix,
  looksLikeApiKey,
} from '../../gateway/src/keys/format.ts';
import { requireOwnSession } from '../../gateway/src/keys/integration-key.ts';
import { grantWithin, hasScope, isValidGrant } from '../../gateway/src/keys/scopes.ts';

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

  it('makes integration keys that start with the integration name, prefixes still unique', () => {
    const a = generateApiKey('chat-2');
    const b = generateApiKey('chat-2');
    expect(a.key).toMatch(/^sbk_chat-2_[A-Za-z0-9_-]{43}$/);
    expect(a.prefix).toBe(a.key.slice(0, 'sbk_chat-2_'.length + 8));
    expect(a.prefix).not.toBe(b.prefix);
    expect(keyPrefix(a.key)).toBe(a.prefix);
    expect(a.hash).toEqual(hashApiKey(a.key));
    expect(looksLikeApiKey(a.key)).toBe(true);
    expect(looksLikeApiKey(a.key.replace('chat-2', 'Chat'))).toBe(false);
    expect(looksLikeApiKey(`${a.key}x`)).toBe(false);
  });
});

describe('integration keys', () => {
  const chat = { integration: 'chat' };
  it('reach only sessions whose key starts with <integration>:', () => {
    expect(() => requireOwnSession(chat, 'chat:room-1')).not.toThrow();
    for (const key of ['github:acme/api', 'chatty:room', 'chat', 'x:chat:room']) {
      expect(() => requireOwnSession(chat, key)).toThrow(
        'it may only post into sessions whose key starts with "chat:"',
      );
    }
  });

  it('leave other keys alone', () => {
    expect(() => requireOwnSession({ integration: null }, 'github:acme/api')).not.toThrow();
    expect(() => requireOwnSession(undefined, 'github:acme/api')).not.toThrow();
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

  it.each([
    ['*', ['*'], true],
    ['*', ['keys:*', 'tasks:*'], false],
    ['tasks:write', ['*'], true],
    ['tasks:write', ['tasks:*'], true],
    ['tasks:write', ['keys:write'], false],
    ['tasks:*', ['tasks:read', 'tasks:write'], true],
    ['tasks:*', ['tasks:write'], false],
    ['keys:*', ['keys:write'], false],
  ] as const)('a new key may get %s from a key holding %j: %s', (grant, held, expected) => {
    expect(grantWithin(grant, held)).toBe(expected);
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
