/** What every console page is given (pages/routes.ts matches the hash to a page). */
export interface PageProps {
  /** The path's params, e.g. `id` of /tasks/:id. */
  params: Record<string, string>;
  /** The hash's query (filters, cursors). */
  query: URLSearchParams;
}
