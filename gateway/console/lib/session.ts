import { computed, signal } from '@preact/signals';
import { hasScope, type Scope } from '../../src/keys/scopes.ts';
import { request, setCsrfToken, whenSignedOut } from './api.ts';

/** Who is signed in: the key's public prefix, name and scopes (never the key). */
export interface SessionKey {
  prefix: string;
  name: string;
  scopes: string[];
}

interface SessionAnswer {
  key: SessionKey;
  csrfToken: string;
  expiresAt: string;
}

/** GET /console/session: `{ key: null }` when not signed in. */
type WhoAnswer = SessionAnswer | { key: null };

/** undefined while loading, null when signed out. */
export const session = signal<SessionKey | null | undefined>(undefined);
/** Why the last session ended, shown on the sign-in page. */
export const signedOutReason = signal<string | null>(null);

whenSignedOut(() => {
  if (session.value) signedOutReason.value = 'Your session ended: sign in again.';
  session.value = null;
});

function adopt(answer: SessionAnswer): void {
  setCsrfToken(answer.csrfToken);
  session.value = answer.key;
  signedOutReason.value = null;
}

export async function loadSession(): Promise<void> {
  try {
    const who = await request<WhoAnswer>('GET', '/console/session');
    if (who.key === null) session.value = null;
    else adopt(who as SessionAnswer);
  } catch {
    session.value = null;
  }
}

export async function signIn(key: string): Promise<void> {
  adopt(await request<SessionAnswer>('POST', '/console/session', { key }));
}

export async function signOut(): Promise<void> {
  try {
    await request('DELETE', '/console/session');
  } finally {
    setCsrfToken('');
    session.value = null;
  }
}

/**
 * Does the signed-in key hold `scope`? The console hides what it may not do (the gateway
 * refuses it anyway): the same rule as the gateway's, from the same file.
 */
export function can(scope: Scope): boolean {
  return hasScope(session.value?.scopes ?? [], scope);
}

export const scopes = computed(() => session.value?.scopes ?? []);
