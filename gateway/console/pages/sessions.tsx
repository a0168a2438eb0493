import { ErrorBox, Loading, PageHeader, Table } from '../components/ui.tsx';
import { get } from '../lib/api.ts';
import { ago } from '../lib/format.ts';
import { LIVE_MS, useLoad } from '../lib/live.ts';
import { href } from '../lib/router.ts';
import type { SessionView } from './task-types.ts';
import type { PageProps } from './types.ts';
import './tasks.css';

const PAGE = 25;

/** /sessions: every session, newest first, a page at a time (the cursor in the hash query). */
export function SessionsPage({ query }: PageProps) {
  const cursor = query.get('cursor') ?? '';
  const list = useLoad(
    () =>
      get<{ sessions: SessionView[]; next: string | null }>('/sessions', { cursor, limit: PAGE }),
    [cursor],
    cursor ? 0 : LIVE_MS,
  );
  return (
    <>
      <PageHeader title="Sessions">
        <Loading loading={list.loading && !list.data} />
      </PageHeader>
      <ErrorBox error={list.error} />
      <Table
        label="Sessions"
        rows={list.data?.sessions}
        rowKey={(s) => s.id}
        empty={cursor ? 'No older sessions.' : 'No sessions yet.'}
        columns={[
          {
            title: 'Session',
            cell: (s) => (
              <a href={href(`/sessions/${s.id}`)} class="task-link">
                {s.key}
              </a>
            ),
          },
          { title: 'Profile', cell: (s) => s.profile ?? '—' },
          { title: 'Dispatch', wide: true, cell: (s) => s.dispatch?.type ?? '—' },
          {
            title: 'Updated',
            cell: (s) => <time dateTime={s.updatedAt}>{ago(s.updatedAt)}</time>,
          },
          {
            title: 'Created',
            wide: true,
            cell: (s) => <time dateTime={s.createdAt}>{ago(s.createdAt)}</time>,
          },
        ]}
      />
      <div class="pager">
        {cursor && <a href={href('/sessions')}>Newest sessions</a>}
        {list.data?.next && (
          <a href={href('/sessions', { cursor: list.data.next })}>Older sessions →</a>
        )}
      </div>
    </>
  );
}
