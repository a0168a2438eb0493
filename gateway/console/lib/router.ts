import { signal } from '@preact/signals';

/**
 * Hash routes (`/console/#/tasks/12?status=failed`): the server serves one page, and a reload
 * or a pasted link lands on the same view.
 */
export interface Location {
  path: string;
  query: URLSearchParams;
}

function parse(hash: string): Location {
  const raw = hash.replace(/^#/, '') || '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  return {
    path: path.startsWith('/') ? path : `/${path}`,
    query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)),
  };
}

export const location = signal<Location>(parse(window.location.hash));
window.addEventListener('hashchange', () => {
  location.value = parse(window.location.hash);
});

/** The href of a console view, e.g. href('/tasks', { status: 'failed' }). */
export function href(
  path: string,
  query: Record<string, string | number | undefined> = {},
): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query))
    if (v !== undefined && v !== '') params.set(k, String(v));
  const qs = params.toString();
  return `#${path}${qs ? `?${qs}` : ''}`;
}

export function navigate(
  path: string,
  query: Record<string, string | number | undefined> = {},
): void {
  window.location.hash = href(path, query);
}

/** Replaces the query of the current view without a new history entry (filters). */
export function replaceQuery(query: Record<string, string | number | undefined>): void {
  const next = href(location.value.path, query);
  window.history.replaceState(null, '', next);
  location.value = parse(next);
}

/** Matches '/tasks/:id' against a path; the params, or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split('/');
  const have = path.split('/');
  if (want.length !== have.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const h = have[i]!;
    if (w.startsWith(':')) params[w.slice(1)] = decodeURIComponent(h);
    else if (w !== h) return null;
  }
  return params;
}
