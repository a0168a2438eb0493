/**
 * The console's one way to the gateway: /api/v1 and /console/session with the session cookie
 * (sent by the browser, HttpOnly) and, on every write, the session's CSRF token.
 */

/** The one error shape of every answer: `{ error: { code, message, ...details } }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

let csrfToken = '';
let onSignedOut: () => void = () => {};

/** Set by the session module when it learns the token (sign-in, reload). */
export function setCsrfToken(token: string): void {
  csrfToken = token;
}

/** Called when the gateway answers 401: the session ended (expiry, sign-out, key revoked). */
export function whenSignedOut(callback: () => void): void {
  onSignedOut = callback;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A request to `path` (absolute, e.g. /api/v1/tasks); JSON in and out. */
export async function request<T>(method: Method, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken;
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    throw new ApiError(res.status, 'bad_answer', `the gateway answered ${res.status} without JSON`);
  }
  if (!res.ok) {
    const error = (json as { error?: Record<string, unknown> } | undefined)?.error ?? {};
    const { code, message, ...details } = error;
    if (res.status === 401 && !path.startsWith('/console/session')) onSignedOut();
    throw new ApiError(
      res.status,
      typeof code === 'string' ? code : 'error',
      typeof message === 'string' ? message : `the gateway answered ${res.status}`,
      details,
    );
  }
  return json as T;
}

/** GET /api/v1<path>, with a query built from the defined values of `query`. */
export function get<T>(path: string, query: Record<string, unknown> = {}): Promise<T> {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  const qs = params.toString();
  return request<T>('GET', `/api/v1${path}${qs ? `?${qs}` : ''}`);
}

export const post = <T>(path: string, body: unknown = {}) =>
  request<T>('POST', `/api/v1${path}`, body);
export const put = <T>(path: string, body: unknown) => request<T>('PUT', `/api/v1${path}`, body);
export const del = <T>(path: string) => request<T>('DELETE', `/api/v1${path}`);

/** An error as one line for the page. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}
