import { describe, expect, it } from 'vitest';
import { LiveTokens } from '../../gateway/src/tokens/live.ts';
import type { LiveTokenState } from '../../gateway/src/tokens/store.ts';

// The in-memory records of live tokens (tokens/live.ts): what a cold verification trusts
// without reading the database, so every way a record stops being trusted is checked here.
const NOW = 1_000_000;
const record = (jti: string, taskId = 'task-a', kid = 'k1', expiresAt = NOW + 600_000) =>
  ({
    jti,
    taskId,
    kid,
    audience: 'http://gw/mcp',
    scope: 'echo:*',
    sessionId: null,
    profile: null,
    expiresAt: new Date(expiresAt),
  }) satisfies LiveTokenState;

describe('LiveTokens', () => {
  it('trusts a record for trustMs after the read that confirmed it, and never past its expiry', () => {
    const live = new LiveTokens({ maxEntries: 10, trustMs: 30_000 });
    live.set(record('a'), NOW, live.currentGeneration());
    live.set(record('b', 'task-a', 'k1', NOW + 10_000), NOW, live.currentGeneration());
    expect(live.get('a', NOW + 29_999)).toBeDefined();
    expect(live.get('b', NOW + 9_999)).toBeDefined();
    expect(live.get('b', NOW + 10_000)).toBeUndefined();
    expect(live.get('a', NOW + 30_000)).toBeUndefined();
    expect(live.size).toBe(0);
  });

  it('keeps at most maxEntries, dropping the record loaded first; 0 keeps none', () => {
    const live = new LiveTokens({ maxEntries: 2, trustMs: 30_000 });
    for (const jti of ['a', 'b', 'c']) live.set(record(jti), NOW, live.currentGeneration());
    expect(live.jtis()).toEqual(['b', 'c']);
    const none = new LiveTokens({ maxEntries: 0, trustMs: 30_000 });
    none.set(record('a'), NOW, none.currentGeneration());
    expect(none.size).toBe(0);
  });

  it('does not store a read that started before a revocation', () => {
    const live = new LiveTokens();
    const generation = live.currentGeneration();
    live.revoke(['task-a'], []);
    live.set(record('a'), NOW, generation);
    expect(live.size).toBe(0);
  });

  it('revokes by task, by token id and by signing key', () => {
    const live = new LiveTokens();
    const g = live.currentGeneration();
    live.set(record('a', 'task-a'), NOW, g);
    live.set(record('b', 'task-b'), NOW, g);
    live.set(record('c', 'task-c', 'k2'), NOW, g);
    live.set(record('d', 'task-d'), NOW, g);
    live.revoke(['task-a'], ['b'], ['k2']);
    expect(live.jtis()).toEqual(['d']);
  });

  it('a sync confirms the records still live and drops the others, and re-adds none', () => {
    const live = new LiveTokens({ maxEntries: 10, trustMs: 30_000 });
    const g = live.currentGeneration();
    live.set(record('a'), NOW, g);
    live.set(record('b'), NOW, g);
    live.confirm(['a', 'b', 'gone'], new Set(['a', 'gone']), NOW + 20_000);
    expect(live.jtis()).toEqual(['a']);
    expect(live.get('a', NOW + 49_999)).toBeDefined();
  });
});
