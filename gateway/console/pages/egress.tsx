import { useState } from 'preact/hooks';
import { Badge, ErrorBox, Field, Loading, PageHeader, Section, Table } from '../components/ui.tsx';
import { get } from '../lib/api.ts';
import { bytes, duration, isoToLocal, localToIso, timestamp } from '../lib/format.ts';
import { LIVE_MS, useLoad } from '../lib/live.ts';
import { href, replaceQuery } from '../lib/router.ts';
import type { PageProps } from './types.ts';
import './audit.css';
import './egress.css';

/** One row of GET /api/v1/egress (gateway/src/egress/store.ts EgressConnection). */
interface EgressConnection {
  id: string;
  startedAt: string;
  integration: string | null;
  taskId: string | null;
  kind: 'connect' | 'http';
  host: string;
  port: number;
  address: string | null;
  outcome: 'allowed' | 'refused' | 'failed';
  reason: string | null;
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
  mtls: boolean;
}

/** One page of the log: 25 rows, then "Older" (as the audit log). */
const PAGE = 25;
const FILTERS = ['integration', 'outcome', 'host', 'task', 'since'] as const;
type Filter = (typeof FILTERS)[number];
const OUTCOMES = ['allowed', 'refused', 'failed'] as const;

/** host:port, an IPv6 literal in brackets as in a URL. */
const hostPort = (c: EgressConnection) =>
  c.host.includes(':') ? `[${c.host}]:${c.port}` : `${c.host}:${c.port}`;

/** The egress proxy's connection log (issue 21): where integrations' programs went. Live. */
export function EgressPage(props: PageProps) {
  const applied: Record<Filter, string> = {
    integration: props.query.get('integration') ?? '',
    outcome: props.query.get('outcome') ?? '',
    host: props.query.get('host') ?? '',
    task: props.query.get('task') ?? '',
    since: props.query.get('since') ?? '',
  };
  const before = props.query.get('before') ?? '';
  // The form's values (applied on submit) and the cursors of the newer pages (for "Newer").
  const [draft, setDraft] = useState({ ...applied, since: isoToLocal(applied.since) });
  const [newer, setNewer] = useState<string[]>([]);
  const key = [...FILTERS.map((f) => applied[f]), before];
  const log = useLoad(
    () =>
      get<{ connections: EgressConnection[]; next: string | null }>('/egress', {
        ...applied,
        before,
        limit: PAGE,
      }),
    key,
    before ? 0 : LIVE_MS,
  );

  const apply = (event: Event) => {
    event.preventDefault();
    setNewer([]);
    replaceQuery({
      integration: draft.integration.trim(),
      outcome: draft.outcome,
      host: draft.host.trim(),
      task: draft.task.trim(),
      since: localToIso(draft.since),
    });
  };
  const clear = () => {
    setDraft({ integration: '', outcome: '', host: '', task: '', since: '' });
    setNewer([]);
    replaceQuery({});
  };
  const goOlder = () => {
    if (!log.data?.next) return;
    setNewer([...newer, before]);
    replaceQuery({ ...applied, before: log.data.next });
  };
  const goNewer = () => {
    const previous = newer.at(-1) ?? '';
    setNewer(newer.slice(0, -1));
    replaceQuery({ ...applied, before: previous });
  };
  const field = (
    name: Exclude<Filter, 'outcome'>,
    label: string,
    type = 'text',
    extra: Record<string, unknown> = {},
  ) => (
    <Field label={label} id={`egress-${name}`}>
      <input
        id={`egress-${name}`}
        type={type}
        value={draft[name]}
        onInput={(e) => setDraft({ ...draft, [name]: e.currentTarget.value })}
        {...extra}
      />
    </Field>
  );

  return (
    <>
      <PageHeader title="Egress" />
      <p>
        Every connection an integration's programs opened through the egress proxy: allowed, refused
        (not granted, or a private address) or failed.
      </p>
      <form class="filters card" onSubmit={apply} aria-label="Egress filters">
        {field('integration', 'Integration', 'text', { placeholder: 'github' })}
        <Field label="Outcome" id="egress-outcome">
          <select
            id="egress-outcome"
            value={draft.outcome}
            onChange={(e) => setDraft({ ...draft, outcome: e.currentTarget.value })}
          >
            <option value="">any</option>
            {OUTCOMES.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        </Field>
        {field('host', 'Host', 'text', { placeholder: 'api.github.com' })}
        {field('task', 'Task id', 'text', { placeholder: 'a task UUID' })}
        {field('since', 'Since', 'datetime-local')}
        <div class="audit-filter-buttons">
          <button type="submit" class="primary">
            Apply filters
          </button>
          <button type="button" onClick={clear}>
            Clear
          </button>
        </div>
      </form>
      <Section title="Connections" id="egress-connections">
        <Loading loading={log.loading && !log.data} />
        <ErrorBox error={log.error} />
        <Table
          label="Egress connections"
          rows={log.data?.connections}
          empty="No connections match."
          rowKey={(c) => c.id}
          rowClass={(c) => (c.outcome === 'allowed' ? undefined : `egress-${c.outcome}`)}
          columns={[
            { title: 'Id', cell: (c) => c.id, wide: true },
            { title: 'Time', cell: (c) => timestamp(c.startedAt) },
            { title: 'Integration', cell: (c) => c.integration ?? '—' },
            {
              title: 'Host',
              cell: (c) => (
                <>
                  <code class="egress-host">{hostPort(c)}</code>
                  {c.mtls && (
                    <>
                      {' '}
                      <span class="badge info" title="the proxy presented the client certificate">
                        mTLS
                      </span>
                    </>
                  )}
                </>
              ),
            },
            { title: 'Outcome', cell: (c) => <Badge value={c.outcome} /> },
            { title: 'Reason', cell: (c) => (c.reason ? c.reason.replaceAll('_', ' ') : '—') },
            {
              title: 'Up / Down',
              cell: (c) => (
                <span class="egress-bytes">{`${bytes(c.bytesUp)} / ${bytes(c.bytesDown)}`}</span>
              ),
              wide: true,
            },
            { title: 'Duration', cell: (c) => duration(c.durationMs), wide: true },
            {
              title: 'Task',
              cell: (c) =>
                c.taskId ? (
                  <a href={href(`/tasks/${c.taskId}`)} class="mono" title={c.taskId}>
                    {c.taskId.slice(0, 8)}
                  </a>
                ) : (
                  '—'
                ),
              wide: true,
            },
          ]}
        />
        <nav class="pager" aria-label="Egress pages">
          <button type="button" disabled={!before} onClick={goNewer}>
            Newer
          </button>
          <span>Page {newer.length + 1}</span>
          <button type="button" disabled={!log.data?.next} onClick={goOlder}>
            Older
          </button>
        </nav>
      </Section>
    </>
  );
}
