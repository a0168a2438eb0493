import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The console's session cookie and its CSRF token (issue 16). The cookie holds 256 random bits
 * (stored as their sha256, like an API key). The CSRF token is derived from the cookie value
 * (HMAC-SHA256 keyed by it), so the server stores nothing more and can check it on every write;
 * a page on another origin can neither read the cookie (HttpOnly) nor the token (the session
 * answer is same-origin JSON), and SameSite=Strict keeps the cookie off its requests anyway.
 */

/** Over HTTPS the cookie is `__Host-` prefixed: the browser then insists on Secure, Path=/, no Domain. */
export const COOKIE_NAME = 'switchboard_console';
export const SECURE_COOKIE_NAME = '__Host-switchboard_console';
/** The header a console write carries its CSRF token in. */
export const CSRF_HEADER = 'x-csrf-token';

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export function generateSessionToken(): { token: string; hash: Buffer } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashSessionToken(token) };
}

export function hashSessionToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function csrfTokenFor(sessionToken: string): string {
  return createHmac('sha256', sessionToken).update('switchboard console csrf').digest('base64url');
}

/** Constant-time: the header against the token derived from the request's own cookie. */
export function csrfTokenMatches(sessionToken: string, header: string | undefined): boolean {
  if (!header || header.length > 100) return false;
  const expected = Buffer.from(csrfTokenFor(sessionToken));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The session token from a Cookie header, or undefined. Either name is read: which one was set
 * depends on the scheme at sign-in. A malformed value is no session (never an error).
 */
export function sessionTokenFrom(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader || cookieHeader.length > 8192) return undefined;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name !== COOKIE_NAME && name !== SECURE_COOKIE_NAME) continue;
    const value = part.slice(eq + 1).trim();
    if (TOKEN_PATTERN.test(value)) return value;
  }
  return undefined;
}

/** Set-Cookie for a new session (maxAgeMs > 0) or to clear one (maxAgeMs 0). */
export function sessionCookie(token: string, maxAgeMs: number, secure: boolean): string {
  const name = secure ? SECURE_COOKIE_NAME : COOKIE_NAME;
  const attributes = [
    `${name}=${token}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${Math.floor(maxAgeMs / 1000)}`,
  ];
  if (secure) attributes.push('Secure');
  return attributes.join('; ');
}
