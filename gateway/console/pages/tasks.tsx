import { useState } from 'preact/hooks';
import { Badge, ErrorBox, Field, Loading, PageHeader, Table } from '../components/ui.tsx';
import { get } from '../lib/api.ts';
import { ago, duration } from '../lib/format.ts';
import { LIVE_MS, useLoad } from '../lib/live.ts';
import { href, replaceQuery } from '../lib/router.ts';
import type { TaskList, TaskView } from './task-types.ts';
import type { PageProps } from './types.ts';
import './tasks.css';

const STATUSES = ['pending', 'running', 'complete', 'failed', 'cancelled'];
const PAGE = 25;

/** How long a task ran (or has run so far). */
export function taskDuration(t: TaskView): string {
  if (!t.startedAt) return '—';
  const end = t.finishedAt ? new Date(t.finishedAt).getTime() : Date.now();
  return duration(end - new Date(t.startedAt).getTime());
}

/** The first line of a prompt, short enough for a table cell. */
export function promptLine(prompt: string): string {
  const line = prompt.split('\n')[0]!.trim();
  return line.length > 80 ? `${line.slice(0, 80)}…` : line || '(empty prompt)';
}

export function TaskTable(props: { tasks: TaskView[] | undefined; empty: string }) {
  return (
    <Table
      label="Tasks"
      rows={props.tasks}
      rowKey={(t) => t.id}
      empty={props.empty}
      columns={[
        {
          title: 'Task',
          cell: (t) => (
            <a href={href(`/tasks/${t.id}`)} class="task-link">
              <span class="mono">{t.id.slice(0, 8)}</span> <span>{promptLine(t.prompt)}</span>
            </a>
          ),
        },
        { title: 'Status', cell: (t) => <Badge value={t.status} /> },
        { title: 'Profile', cell: (t) => t.profile ?? (t.external ? 'external' : '—') },
        {
          title: 'Session',
          wide: true,
          cell: (t) =>
            t.sessionId ? (
              <a href={href(`/sessions/${t.sessionId}`)} class="mono">
                {t.sessionId.slice(0, 8)}
              </a>
            ) : (
              '—'
            ),
        },
        {
          title: 'Created',
          cell: (t) => <time dateTime={t.createdAt}>{ago(t.createdAt)}</time>,
        },
        { title: 'Ran for', wide: true, cell: taskDuration },
        { title: 'Reason', wide: true, cell: (t) => t.reason ?? '' },
      ]}
    />
  );
}

/** /tasks: every task, newest first; filters and the page's cursor live in the hash query. */
export function TasksPage({ query }: PageProps) {
  const status = query.get('status') ?? '';
  const profile = query.get('profile') ?? '';
  const sessionId = query.get('session') ?? '';
  const cursor = query.get('cursor') ?? '';
  const filters = { status, profile, session: sessionId };
  const [profileText, setProfileText] = useState(profile);
  const [sessionText, setSessionText] = useState(sessionId);
  const list = useLoad(
    () => get<TaskList>('/tasks', { ...filters, cursor, limit: PAGE }),
    [status, profile, sessionId, cursor],
    // The first page follows new tasks; an older page stays put while it is read.
    cursor ? 0 : LIVE_MS,
  );
  const apply = (e: Event) => {
    e.preventDefault();
    replaceQuery({ status, profile: profileText.trim(), session: sessionText.trim() });
  };
  return (
    <>
      <PageHeader title="Tasks">
        <Loading loading={list.loading && !list.data} />
      </PageHeader>
      <form class="filters" onSubmit={apply} aria-label="Filter tasks">
        <Field label="Status" id="task-status">
          <select
            id="task-status"
            value={status}
            onChange={(e) =>
              replaceQuery({ ...filters, status: (e.target as HTMLSelectElement).value })
            }
          >
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Profile" id="task-profile">
          <input
            id="task-profile"
            value={profileText}
            onInput={(e) => setProfileText((e.target as HTMLInputElement).value)}
          />
        </Field>
        <Field label="Session id" id="task-session">
          <input
            id="task-session"
            value={sessionText}
            onInput={(e) => setSessionText((e.target as HTMLInputElement).value)}
          />
        </Field>
        <button type="submit">Apply filters</button>
        {(status || profile || sessionId) && (
          <a
            href={href('/tasks')}
            onClick={() => {
              setProfileText('');
              setSessionText('');
            }}
          >
            Clear filters
          </a>
        )}
      </form>
      <ErrorBox error={list.error} />
      <TaskTable
        tasks={list.data?.tasks}
        empty={cursor ? 'No older tasks.' : 'No tasks match these filters.'}
      />
      <div class="pager">
        {cursor && <a href={href('/tasks', filters)}>Newest tasks</a>}
        {list.data?.next && (
          <a href={href('/tasks', { ...filters, cursor: list.data.next })}>Older tasks →</a>
        )}
      </div>
    </>
  );
}
