import { describe, expect, it } from 'vitest';
import {
  isScopePattern,
  scopeAllows,
  scopeCoversAllOf,
  scopeCoversIntegration,
  scopeFor,
} from '../../gateway/src/tokens/scope.ts';

describe('token scope patterns', () => {
  it.each([
    ['github:get_pr', true],
    ['github:*', true],
    ['*:*', true],
    ['*:get_pr', true],
    ['my-app:tool.v2', true],
    ['github', false],
    ['github:get_*', false],
    ['GitHub:get_pr', false],
    [':get_pr', false],
    ['github:', false],
    ['github:get pr', false],
  ])('%s is a pattern: %s', (value, ok) => {
    expect(isScopePattern(value)).toBe(ok);
  });

  it.each<[string[], string, string, boolean]>([
    [['github:*'], 'github', 'get_pr', true],
    [['github:*'], 'chat', 'post_message', false],
    [['github:get_pr'], 'github', 'get_pr', true],
    [['github:get_pr'], 'github', 'comment', false],
    [['*:*'], 'notes', 'add_note', true],
    [['*:search'], 'notes', 'search', true],
    [['*:search'], 'notes', 'add_note', false],
    [[], 'github', 'get_pr', false],
    [['github:get_pr', 'chat:*'], 'chat', 'deliver', true],
  ])('%j allows %s:%s → %s', (scope, integration, tool, allowed) => {
    expect(scopeAllows(scope, integration, tool)).toBe(allowed);
  });

  it('covers an integration when any pattern names it or *', () => {
    expect(scopeCoversIntegration(['github:get_pr'], 'github')).toBe(true);
    expect(scopeCoversIntegration(['*:search'], 'github')).toBe(true);
    expect(scopeCoversIntegration(['chat:*'], 'github')).toBe(false);
    expect(scopeFor(['github:get_pr', 'chat:*', '*:search'], 'github')).toEqual([
      'github:get_pr',
      '*:search',
    ]);
  });

  it.each<[string[], string, boolean]>([
    [['github:*'], 'github', true],
    [['*:*'], 'github', true],
    [['github:get_pr'], 'github', false],
    [['*:get_pr'], 'github', false],
    [['chat:*'], 'github', false],
    [['github:get_pr', 'github:comment', 'chat:*'], 'github', false],
    [['github:get_pr', 'github:*'], 'github', true],
    [[], 'github', false],
  ])(
    '%j grants the whole of %s (its resources, prompts, completions) → %s',
    (scope, name, whole) => {
      expect(scopeCoversAllOf(scope, name)).toBe(whole);
    },
  );
});
