/**
 * The scopes of an integration's API key (keys/integration-key.ts): those of its granted
 * capabilities and never more, and which capabilities put the key in its stdio server's
 * environment (issue 18).
 */
import { CAPABILITIES } from '@switchboard/sdk';
import { describe, expect, it } from 'vitest';
import { integrationKeyScopes, serverNeedsKey } from '../../gateway/src/keys/integration-key.ts';

describe('integration key scopes', () => {
  it('maps each capability to its scopes, and nothing else to any', () => {
    expect(integrationKeyScopes(['sessions.write'])).toEqual(['sessions:write']);
    expect(integrationKeyScopes(['storage.kv'])).toEqual(['kv:read', 'kv:write']);
    expect(integrationKeyScopes(['documents'])).toEqual(['documents:read', 'documents:write']);
    expect(integrationKeyScopes(['processes', 'sessions.write', 'storage.kv'])).toEqual([
      'sessions:write',
      'kv:read',
      'kv:write',
    ]);
    const others = CAPABILITIES.filter(
      (c) => !['sessions.write', 'storage.kv', 'documents'].includes(c),
    );
    expect(integrationKeyScopes(others)).toEqual([]);
    expect(integrationKeyScopes([])).toEqual([]);
  });

  it('never grants more than the capabilities: no *, no resource:*, no other resource', () => {
    const all = integrationKeyScopes([...CAPABILITIES]);
    expect(all).not.toContain('*');
    for (const scope of all) {
      expect(scope).toMatch(/^(sessions|kv|documents):(read|write)$/);
    }
    expect(all).not.toContain('sessions:read');
  });

  it('puts the key in the server only for storage.kv and documents', () => {
    expect(serverNeedsKey(['storage.kv'])).toBe(true);
    expect(serverNeedsKey(['documents'])).toBe(true);
    expect(serverNeedsKey(['sessions.write', 'processes', 'webhooks'])).toBe(false);
  });
});
