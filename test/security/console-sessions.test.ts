/**
 * The console's session cookie (issue 16): it stands in for an operator API key, so every way a
 * cookie could act beyond its key, outlive it, or be used by another site is an attack here.
 * Plain HTTP against the gateway (no browser: an attacker's client need not be one); the browser
 * suite (test/console/) covers the same rules as a real user meets them.
 */
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, useTestGateway } from '../helpers/gateway.ts';

interface Signed {
  status: number;
  cookie: string;
  setCookie: string;
  csrf: string;
  body: Record<string, unknown>;
}

describe('console sessions', () => {
  const gw = useTestGateway();
  const url = () => gw().url;

  const signIn = async (key: string, headers: Record<string, string> = {}): Promise<Signed> => {
    const res = await fetch(`${url()}/console/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ key }),
    });
    const setCookie = res.headers.get('set-cookie') ?? '';
    const body = (await res.json()) as Record<string, unknown>;
    return {
      status: res.status,
      setCookie,
      cookie: setCookie.split(';')[0] ?? '',
      csrf: String(body.csrfToken ?? ''),
      body,
    };
  };

  const makeKey = async (scopes: string[], name = `k-${scopes.join(',')}`): Promise<string> => {
    const res = await fetch(`${url()}/api/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name, scopes }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { key: string }).key;
  };

  /** A write through the cookie: creating a key (keys:write), the widest thing a session can do. */
  const createKeyWith = (session: Signed, headers: Record<string, string> = {}) =>
    fetch(`${url()}/api/v1/keys`, {
      method: 'POST',
      headers: {
        cookie: session.cookie,
        'content-type': 'application/json',
        'x-csrf-token': session.csrf,
        ...headers,
      },
      body: JSON.stringify({ name: 'made-by-cookie', scopes: ['audit:read'] }),
    });

  it('sign-in sets an HttpOnly SameSite=Strict cookie and answers no secret', async () => {
    const s = await signIn(ADMIN_KEY);
    expect(s.status).toBe(201);
    expect(s.setCookie).toMatch(
      /^switchboard_console=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/,
    );
    expect(JSON.stringify(s.body)).not.toContain(ADMIN_KEY);
    expect(JSON.stringify(s.body)).not.toContain(s.cookie.split('=')[1]);
    const rows = await gw().sql<{ n: number }[]>`
      select count(*)::int as n from console_sessions where token_hash = sha256(${s.cookie.split('=')[1]!}::bytea)`;
    expect(rows[0]!.n).toBe(1); // stored as its hash only
  });

  it('a write needs the session CSRF token: none, a wrong one, or another session’s are refused', async () => {
    const a = await signIn(ADMIN_KEY);
    const b = await signIn(ADMIN_KEY);
    const before = await gw().sql<{ n: number }[]>`select count(*)::int as n from api_keys`;
    for (const csrf of ['', 'x'.repeat(43), b.csrf]) {
      const res = await createKeyWith({ ...a, csrf });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/CSRF/);
    }
    const after = await gw().sql<{ n: number }[]>`select count(*)::int as n from api_keys`;
    expect(after[0]!.n).toBe(before[0]!.n);
    expect((await createKeyWith(a)).status).toBe(201);
    // Reads need no token: an EventSource cannot send headers.
    const read = await fetch(`${url()}/api/v1/keys`, { headers: { cookie: a.cookie } });
    expect(read.status).toBe(200);
  });

  it('a write from another site is refused even with the token (Origin, Sec-Fetch-Site)', async () => {
    const s = await signIn(ADMIN_KEY);
    expect((await createKeyWith(s, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await createKeyWith(s, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await createKeyWith(s, { 'sec-fetch-site': 'same-site' })).status).toBe(403);
    expect((await createKeyWith(s, { origin: 'null' })).status).toBe(403);
    // And so is a sign-in posted from another site (login CSRF: signing the victim in as the attacker).
    const forged = await signIn(ADMIN_KEY, { origin: 'https://evil.example' });
    expect(forged.status).toBe(403);
    expect(forged.setCookie).toBe('');
    const same = new URL(url()).origin;
    expect((await createKeyWith(s, { origin: same, 'sec-fetch-site': 'same-origin' })).status).toBe(
      201,
    );
  });

  it('a session holds exactly its key’s scopes: a read-only key’s cookie cannot write', async () => {
    const readOnly = await makeKey(['keys:read', 'audit:read']);
    const s = await signIn(readOnly);
    expect(s.status).toBe(201);
    expect(s.body.key).toMatchObject({ scopes: ['keys:read', 'audit:read'] });
    const res = await createKeyWith(s);
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(
      'lacks the scope keys:write',
    );
    // keys:write through a cookie still cannot widen: the same rule as a bearer key.
    const writer = await signIn(await makeKey(['keys:read', 'keys:write']));
    const wider = await fetch(`${url()}/api/v1/keys`, {
      method: 'POST',
      headers: {
        cookie: writer.cookie,
        'content-type': 'application/json',
        'x-csrf-token': writer.csrf,
      },
      body: JSON.stringify({ name: 'wider', scopes: ['*'] }),
    });
    expect(wider.status).toBe(403);
  });

  it('revoking the key, signing out and expiry each end the session; the old cookie is refused', async () => {
    const key = await makeKey(['*'], 'to-revoke');
    const s = await signIn(key);
    const ok = await fetch(`${url()}/api/v1/keys`, { headers: { cookie: s.cookie } });
    expect(ok.status).toBe(200);
    const prefix = (s.body.key as { prefix: string }).prefix;
    const revoke = await fetch(`${url()}/api/v1/keys/${prefix}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(revoke.status).toBe(200);
    expect((await fetch(`${url()}/api/v1/keys`, { headers: { cookie: s.cookie } })).status).toBe(
      401,
    );
    const who = await fetch(`${url()}/console/session`, { headers: { cookie: s.cookie } });
    expect(await who.json()).toEqual({ key: null }); // and so no CSRF token for a dead session

    const t = await signIn(ADMIN_KEY);
    const out = await fetch(`${url()}/console/session`, {
      method: 'DELETE',
      headers: { cookie: t.cookie },
    });
    expect(out.status).toBe(403); // sign-out is a write: it needs the token too
    const signedOut = await fetch(`${url()}/console/session`, {
      method: 'DELETE',
      headers: { cookie: t.cookie, 'x-csrf-token': t.csrf },
    });
    expect(signedOut.status).toBe(204);
    expect(signedOut.headers.get('set-cookie')).toMatch(/^switchboard_console=; .*Max-Age=0/);
    expect((await fetch(`${url()}/api/v1/keys`, { headers: { cookie: t.cookie } })).status).toBe(
      401,
    );

    const u = await signIn(ADMIN_KEY);
    await gw().sql`
      update console_sessions set expires_at = now() - interval '1 second'
      where token_hash = sha256(${u.cookie.split('=')[1]!}::bytea)`;
    expect((await fetch(`${url()}/api/v1/keys`, { headers: { cookie: u.cookie } })).status).toBe(
      401,
    );
  });

  it('a bearer key wins over a cookie: a bad key is not rescued by a good cookie', async () => {
    const s = await signIn(ADMIN_KEY);
    const res = await fetch(`${url()}/api/v1/keys`, {
      headers: { cookie: s.cookie, authorization: 'Bearer sbk_wrong' },
    });
    expect(res.status).toBe(401);
  });

  it('an integration’s process key cannot sign in', async () => {
    const { generateApiKey } = await import('../../gateway/src/keys/format.ts');
    const generated = generateApiKey('chat');
    await gw().sql`
      insert into api_keys (prefix, hash, name, scopes, source, integration, created_by)
      values (${generated.prefix}, ${generated.hash}, 'chat processes', ${['sessions:read']},
              'integration', 'chat', 'test')`;
    const s = await signIn(generated.key);
    expect(s.status).toBe(403);
    expect(s.setCookie).toBe('');
  });

  it('malformed cookies and bodies are refused in words, never a 500', async () => {
    for (const cookie of [
      'switchboard_console=',
      'switchboard_console=../../etc/passwd',
      `switchboard_console=${'a'.repeat(43)}`,
      `switchboard_console=${'a'.repeat(9000)}`,
      '=;;;=',
    ]) {
      const res = await fetch(`${url()}/api/v1/keys`, { headers: { cookie } });
      expect(res.status).toBe(401);
    }
    for (const body of [
      '{"key": 5}',
      '{}',
      '{"key":"x","extra":1}',
      'not json',
      `{"key":"${'k'.repeat(300)}"}`,
    ]) {
      const res = await fetch(`${url()}/console/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect([400, 401]).toContain(res.status);
    }
    const big = await fetch(`${url()}/console/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'k'.repeat(10_000) }),
    });
    expect(big.status).toBe(413);
  });

  it('the console files: strict CSP on every answer, nothing outside gateway/console is served', async () => {
    const page = await fetch(`${url()}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const html = await page.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/); // no inline script
    for (const path of [
      '/console/..%2f..%2fpackage.json',
      '/console/%2e%2e/src/config.ts',
      '/console/main.tsx',
      '/console/lib/api.ts',
      '/console/tsconfig.json',
    ]) {
      const res = await fetch(`${url()}${path}`);
      expect(res.status, path).toBe(404);
    }
    const session = await fetch(`${url()}/console/session`);
    expect(await session.json()).toEqual({ key: null });
    expect(session.headers.get('content-security-policy')).toBeTruthy();
  });

  it('a key keeps at most 20 live sessions: the oldest are ended, past id 9 as numbers', async () => {
    const key = await makeKey(['audit:read'], 'many-browsers');
    const sessions: Signed[] = [];
    for (let i = 0; i < 19; i++) sessions.push(await signIn(key));
    const works = async (s: Signed) =>
      (await fetch(`${url()}/api/v1/audit`, { headers: { cookie: s.cookie } })).status;
    expect(await works(sessions[0]!)).toBe(200);
    await gw().sql`
      insert into console_sessions (token_hash, api_key_id, expires_at)
      select sha256(('filler-' || g)::bytea), k.id, now() + interval '1 hour'
        from api_keys k, generate_series(1, 6) g where k.name = 'many-browsers'`;
    // 25 live rows now; the next sign-in ends all but the newest 20 (19 + 6 + 1 = 26 → 20) and
    // deletes the ended ones.
    const last = await signIn(key);
    expect(last.status).toBe(201);
    const rows = await gw().sql<{ n: number; live: number }[]>`
      select count(*)::int as n, count(*) filter (where s.ended_at is null)::int as live
        from console_sessions s join api_keys k on k.id = s.api_key_id
       where k.name = 'many-browsers'`;
    expect(rows[0]).toEqual({ n: 20, live: 20 });
    // The six oldest (ids below the fillers') are the ended ones.
    const statuses = await Promise.all(sessions.map(works));
    expect(statuses.slice(0, 6)).toEqual(Array(6).fill(401));
    expect(statuses.slice(6)).toEqual(Array(13).fill(200));
    expect(await works(last)).toBe(200);
  });

  it('a key never holds more than 20 rows: each sign-in deletes its ended and expired sessions', async () => {
    const key = await makeKey(['audit:read'], 'comes-and-goes');
    const live = await signIn(key);
    await gw().sql`
      insert into console_sessions (token_hash, api_key_id, expires_at, ended_at)
      select sha256(('dead-' || g)::bytea), k.id, now() - interval '1 hour' + g * interval '1 second',
             case when g % 2 = 0 then now() end
        from api_keys k, generate_series(1, 30) g where k.name = 'comes-and-goes'`;
    const rows = async () =>
      (
        await gw().sql<{ n: number }[]>`
          select count(*)::int as n from console_sessions s join api_keys k on k.id = s.api_key_id
          where k.name = 'comes-and-goes'`
      )[0]!.n;
    expect(await rows()).toBe(31);
    const next = await signIn(key);
    expect(next.status).toBe(201);
    expect(await rows()).toBe(2); // the two live sessions; the 30 dead ones are gone
    for (const s of [live, next]) {
      expect((await fetch(`${url()}/api/v1/audit`, { headers: { cookie: s.cookie } })).status).toBe(
        200,
      );
    }
  });

  it('failed sign-ins write nothing and are limited to 20 a minute per address (then even a right key waits)', async () => {
    const rows = async () =>
      (await gw().sql<{ n: number }[]>`select count(*)::int as n from console_sessions`)[0]!.n;
    const start = await rows();
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) statuses.push((await signIn(`sbk_guess_${i}`)).status);
    expect(statuses).toContain(429);
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
    expect(await rows()).toBe(start);
    expect((await signIn(ADMIN_KEY)).status).toBe(429);
  });
});

describe('console sessions behind HTTPS (SWITCHBOARD_PUBLIC_URL https://…)', () => {
  const gw = useTestGateway({ SWITCHBOARD_PUBLIC_URL: 'https://gateway.example' });

  it('the cookie is Secure and __Host- prefixed, and that name is the one read back', async () => {
    // The public URL is a proxy's; the test talks to the listening port.
    const local = `http://127.0.0.1:${gw().port}`;
    const res = await fetch(`${local}/console/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: ADMIN_KEY }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const setCookie = res.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(
      /^__Host-switchboard_console=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200; Secure$/,
    );
    const cookie = setCookie.split(';')[0]!;
    const read = await fetch(`${local}/api/v1/keys`, { headers: { cookie } });
    expect(read.status).toBe(200);
  });

  it('behind a proxy that rewrites Host, a write from the public origin passes and another is refused', async () => {
    const local = `http://127.0.0.1:${gw().port}`;
    const signedIn = await fetch(`${local}/console/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://gateway.example' },
      body: JSON.stringify({ key: ADMIN_KEY }),
    });
    expect(signedIn.status).toBe(201);
    const cookie = (signedIn.headers.get('set-cookie') ?? '').split(';')[0]!;
    const { csrfToken } = (await signedIn.json()) as { csrfToken: string };
    const write = (origin: string) =>
      fetch(`${local}/api/v1/keys`, {
        method: 'POST',
        headers: {
          cookie,
          origin,
          'sec-fetch-site': 'same-origin',
          'x-csrf-token': csrfToken,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ name: 'via-proxy', scopes: ['audit:read'] }),
      });
    expect((await write('https://gateway.example')).status).toBe(201);
    expect((await write('https://evil.example')).status).toBe(403);
    expect((await write('http://gateway.example')).status).toBe(403); // the scheme counts too
  });
});
