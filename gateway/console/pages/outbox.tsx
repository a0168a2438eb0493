import { useEffect } from 'preact/hooks';
import {
  ActionButton,
  Badge,
  Code,
  ErrorBox,
  KeyValue,
  Loading,
  PageHeader,
  Section,
  Table,
} from '../components/ui.tsx';
import { get, post } from '../lib/api.ts';
import { ago, json, timestamp } from '../lib/format.ts';
import { LIVE_MS, useLoad } from '../lib/live.ts';
import { href, replaceQuery } from '../lib/router.ts';
import { can } from '../lib/session.ts';
import { FilterSelect, Pager, usePaging } from './queues-common.tsx';
import type { PageProps } from './types.ts';
import './queues.css';

/** GET /api/v1/outbox (api/schemas.ts OutboxView); a webhook target's secret reads "***". */
export interface OutboxEntry {
  id: string;
  kind: 'dispatch' | 'event';
  taskId: string | null;
  target: Record<string, unknown>;
  payload: Record<string, unknown>;
  status: string;
  attempts: number;
  maxAttempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  attemptLog: Array<{ at: string; attempt: number; status?: number; error?: string }>;
  createdAt: string;
  deliveredAt: string | null;
  deadAt: string | null;
}

const OUTBOX_STATUSES = ['pending', 'processing', 'delivered', 'dead'] as const;
const PAGE_SIZE = 25;

/** Where an entry goes, in a few words: a dispatch's type (and URL's origin), a subscription, a hook. */
export function targetOf(e: OutboxEntry): string {
  const t = e.target;
  if (e.kind === 'event' && t.type === 'hook')
    return `hook ${String(t.integration)}:${String(t.tool)}`;
  if (e.kind === 'event') return `subscription ${String(t.subscriptionId ?? '?').slice(0, 8)}`;
  const config = (t.config ?? {}) as Record<string, unknown>;
  if (t.type === 'webhook' && typeof config.url === 'string') {
    try {
      return `webhook ${new URL(config.url).origin}`;
    } catch {
      return 'webhook';
    }
  }
  return String(t.type ?? 'dispatch');
}

function nextTry(e: OutboxEntry): string {
  if (e.status !== 'pending') return '—';
  return ago(e.nextAttemptAt);
}

function RedriveButton(props: { entry: OutboxEntry; done: () => void }) {
  return (
    <ActionButton
      label="Redrive"
      run={() => post(`/outbox/${props.entry.id}/redrive`)}
      done={props.done}
    />
  );
}

/** Task results and subscribed events on their way out: retries, dead letters, redrive. */
export function OutboxPage(props: PageProps) {
  const status = props.query.get('status') ?? '';
  const kind = props.query.get('kind') ?? '';
  const taskId = props.query.get('taskId') ?? '';
  const filterKey = `${status}|${kind}|${taskId}`;
  const paging = usePaging();
  // A new filter starts again at the first page.
  useEffect(() => paging.reset(), [filterKey]);
  const list = useLoad(
    () =>
      get<{ entries: OutboxEntry[]; next: string | null }>('/outbox', {
        status,
        kind,
        taskId,
        limit: PAGE_SIZE,
        cursor: paging.cursor,
      }),
    [filterKey, paging.cursor],
    LIVE_MS,
  );
  const set = (change: Record<string, string>) => replaceQuery({ status, kind, taskId, ...change });
  const writable = can('outbox:write');

  return (
    <>
      <PageHeader title="Outbox">
        <Loading loading={list.loading} />
        {writable && (
          <ActionButton
            label="Redrive all dead"
            confirm="Put every dead letter back to pending with a fresh attempt budget?"
            run={() => post('/outbox/redrive')}
            done={list.reload}
          />
        )}
      </PageHeader>
      <form class="filters" aria-label="Filter the outbox" onSubmit={(e) => e.preventDefault()}>
        <FilterSelect
          id="outbox-status"
          label="Status"
          value={status}
          options={OUTBOX_STATUSES}
          onChange={(v) => set({ status: v })}
        />
        <FilterSelect
          id="outbox-kind"
          label="Kind"
          value={kind}
          options={['dispatch', 'event']}
          onChange={(v) => set({ kind: v })}
        />
        {taskId && (
          <p>
            Task <span class="mono">{taskId.slice(0, 8)}</span>{' '}
            <button type="button" class="link" onClick={() => set({ taskId: '' })}>
              show every task
            </button>
          </p>
        )}
      </form>
      <ErrorBox error={list.error} />
      <Section title="Entries, newest first">
        <Table
          label="Outbox entries"
          rows={list.data?.entries}
          rowKey={(e) => e.id}
          empty="No outbox entries match."
          columns={[
            {
              title: 'Entry',
              cell: (e) => <a href={href(`/outbox/${e.id}`)}>#{e.id}</a>,
            },
            { title: 'Kind', cell: (e) => e.kind, wide: true },
            { title: 'Target', cell: (e) => targetOf(e), wide: true },
            {
              title: 'Task',
              wide: true,
              cell: (e) =>
                e.taskId ? (
                  <a href={href(`/tasks/${e.taskId}`)} class="mono">
                    {e.taskId.slice(0, 8)}
                  </a>
                ) : (
                  '—'
                ),
            },
            { title: 'Status', cell: (e) => <Badge value={e.status} /> },
            { title: 'Attempts', cell: (e) => `${e.attempts}/${e.maxAttempts}` },
            { title: 'Next try', cell: nextTry, wide: true },
            { title: 'Last error', cell: (e) => e.lastError ?? '—', wide: true },
            ...(writable
              ? [
                  {
                    title: 'Action',
                    cell: (e: OutboxEntry) =>
                      e.status === 'dead' ? <RedriveButton entry={e} done={list.reload} /> : null,
                  },
                ]
              : []),
          ]}
        />
        <Pager paging={paging} next={list.data?.next} label="Outbox" />
      </Section>
    </>
  );
}

/** /outbox/:id: one entry, its attempt log and what it carries. */
export function OutboxEntryPage(props: PageProps) {
  const id = props.params.id ?? '';
  const loaded = useLoad(
    () => get<{ entry: OutboxEntry }>(`/outbox/${encodeURIComponent(id)}`),
    [id],
    LIVE_MS,
  );
  const e = loaded.data?.entry.id === id ? loaded.data.entry : undefined;
  return (
    <>
      <PageHeader title={`Outbox entry #${id}`}>
        {e?.status === 'dead' && can('outbox:write') && (
          <RedriveButton entry={e} done={loaded.reload} />
        )}
      </PageHeader>
      <p>
        <a href={href('/outbox')}>All outbox entries</a>
      </p>
      <ErrorBox error={loaded.error} />
      {e && (
        <>
          <Section title="Entry">
            <KeyValue
              label="Outbox entry"
              rows={[
                ['Status', <Badge key="s" value={e.status} />],
                ['Kind', e.kind],
                ['Target', targetOf(e)],
                [
                  'Task',
                  e.taskId ? (
                    <a key="t" href={href(`/tasks/${e.taskId}`)} class="mono">
                      {e.taskId}
                    </a>
                  ) : (
                    '—'
                  ),
                ],
                ['Attempts', `${e.attempts} of ${e.maxAttempts}`],
                [
                  'Next try',
                  e.status === 'pending'
                    ? `${timestamp(e.nextAttemptAt)} (${ago(e.nextAttemptAt)})`
                    : '—',
                ],
                ['Created', `${timestamp(e.createdAt)} (${ago(e.createdAt)})`],
                ['Delivered', e.deliveredAt ? timestamp(e.deliveredAt) : '—'],
                ['Dead since', e.deadAt ? timestamp(e.deadAt) : '—'],
                [
                  'Last error',
                  e.lastError ? (
                    <span key="l" class="error">
                      {e.lastError}
                    </span>
                  ) : (
                    '—'
                  ),
                ],
              ]}
            />
          </Section>
          <Section title="Attempts">
            {e.attemptLog.length === 0 ? (
              <p class="empty">No attempt yet.</p>
            ) : (
              <ol class="timeline" aria-label="Attempts">
                {e.attemptLog.map((a) => (
                  <li key={`${a.attempt}-${a.at}`}>
                    <span class="when">{timestamp(a.at)}</span> attempt {a.attempt}
                    {a.status !== undefined && ` · HTTP ${a.status}`}
                    {a.error && ` · ${a.error}`}
                  </li>
                ))}
              </ol>
            )}
          </Section>
          <Section title="Target">
            <Code>{json(e.target)}</Code>
          </Section>
          <Section title="Payload">
            <Code>{json(e.payload)}</Code>
          </Section>
        </>
      )}
    </>
  );
}
