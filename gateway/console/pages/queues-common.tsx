import { useState } from 'preact/hooks';

/**
 * Cursor paging for the queue pages (deliveries, outbox, approvals): the API answers a page and
 * `next`, the cursor of the page after it. The cursors of the pages before are kept here, so
 * "Previous" goes back without the API paging backwards.
 */
export interface Paging {
  cursor: string | undefined;
  page: number;
  next: (cursor: string) => void;
  previous: () => void;
  reset: () => void;
}

export function usePaging(): Paging {
  const [stack, setStack] = useState<string[]>([]);
  return {
    cursor: stack.at(-1),
    page: stack.length + 1,
    next: (cursor) => setStack((s) => [...s, cursor]),
    previous: () => setStack((s) => s.slice(0, -1)),
    reset: () => setStack([]),
  };
}

export function Pager(props: { paging: Paging; next: string | null | undefined; label: string }) {
  const { paging, next } = props;
  if (paging.page === 1 && !next) return null;
  return (
    <nav class="pager" aria-label={`${props.label} pages`}>
      <button type="button" disabled={paging.page === 1} onClick={paging.previous}>
        Previous page
      </button>
      <span>Page {paging.page}</span>
      <button type="button" disabled={!next} onClick={() => next && paging.next(next)}>
        Next page
      </button>
    </nav>
  );
}

/** A filter's select: '' is "any". */
export function FilterSelect(props: {
  id: string;
  label: string;
  value: string;
  options: readonly string[];
  onChange: (value: string) => void;
}) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select
        id={props.id}
        value={props.value}
        onChange={(e) => props.onChange((e.currentTarget as HTMLSelectElement).value)}
      >
        <option value="">any</option>
        {props.options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </div>
  );
}
