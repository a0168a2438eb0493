import { useState } from 'preact/hooks';
import { ErrorBox, Field, Loading, PageHeader, Section, Table } from '../components/ui.tsx';
import { get } from '../lib/api.ts';
import { isoToLocal, localToIso, timestamp } from '../lib/format.ts';
import { LIVE_MS, useLoad } from '../lib/live.ts';
import { replaceQuery } from '../lib/router.ts';
import type { PageProps } from './types.ts';
import './audit.css';

interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
}

/** One page of the log: 25 rows, then "Older". */
const PAGE = 25;
const FILTERS = ['actor', 'action', 'target', 'since', 'until'] as const;
type Filter = (typeof FILTERS)[number];

/** Actions the gateway writes, offered as suggestions (any exact action can be typed). */
const ACTIONS = [
  'console.sign_in',
  'keys.create',
  'keys.revoke',
  'tasks.grant',
  'tasks.config',
  'tasks.create',
  'tasks.cancel',
  'tasks.complete',
  'sessions.create',
  'integrations.approve-tools',
  'approval.approve',
  'approval.deny',
];

function summary(details: Record<string, unknown>): string {
  const text = JSON.stringify(details);
  return text === '{}' ? '' : text.length > 160 ? `${text.slice(0, 157)}…` : text;
}

export function AuditPage(props: PageProps) {
  const applied: Record<Filter, string> = {
    actor: props.query.get('actor') ?? '',
    action: props.query.get('action') ?? '',
    target: props.query.get('target') ?? '',
    since: props.query.get('since') ?? '',
    until: props.query.get('until') ?? '',
  };
  const before = props.query.get('before') ?? '';
  // The form's values (applied on submit) and the cursors of the newer pages (for "Newer").
  const [draft, setDraft] = useState({
    ...applied,
    since: isoToLocal(applied.since),
    until: isoToLocal(applied.until),
  });
  const [newer, setNewer] = useState<string[]>([]);
  const key = [...FILTERS.map((f) => applied[f]), before];
  const log = useLoad(
    () =>
      get<{ entries: AuditEntry[]; next: string | null }>('/audit', {
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
      actor: draft.actor.trim(),
      action: draft.action.trim(),
      target: draft.target.trim(),
      since: localToIso(draft.since),
      until: localToIso(draft.until),
    });
  };
  const clear = () => {
    setDraft({ actor: '', action: '', target: '', since: '', until: '' });
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
    name: Filter,
    label: string,
    type = 'text',
    extra: Record<string, unknown> = {},
  ) => (
    <Field label={label} id={`audit-${name}`}>
      <input
        id={`audit-${name}`}
        type={type}
        value={draft[name]}
        onInput={(e) => setDraft({ ...draft, [name]: e.currentTarget.value })}
        {...extra}
      />
    </Field>
  );
  const pageNumber = newer.length + 1;

  return (
    <>
      <PageHeader title="Audit log" />
      <form class="filters card" onSubmit={apply} aria-label="Audit filters">
        {field('actor', 'Actor', 'text', { placeholder: 'key:sbk_AbCd1234' })}
        {field('action', 'Action', 'text', { list: 'audit-actions', placeholder: 'keys.create' })}
        {field('target', 'Target', 'text', { placeholder: 'an id or prefix' })}
        {field('since', 'Since', 'datetime-local')}
        {field('until', 'Until', 'datetime-local')}
        <datalist id="audit-actions">
          {ACTIONS.map((a) => (
            <option key={a} value={a} />
          ))}
        </datalist>
        <div class="audit-filter-buttons">
          <button type="submit" class="primary">
            Apply filters
          </button>
          <button type="button" onClick={clear}>
            Clear
          </button>
        </div>
      </form>
      <Section title="Entries" id="audit-entries">
        <Loading loading={log.loading && !log.data} />
        <ErrorBox error={log.error} />
        <Table
          label="Audit entries"
          rows={log.data?.entries}
          empty="No audit entries match."
          rowKey={(e) => e.id}
          columns={[
            { title: 'Id', cell: (e) => e.id, wide: true },
            { title: 'Time', cell: (e) => timestamp(e.at) },
            { title: 'Actor', cell: (e) => <code>{e.actor}</code> },
            { title: 'Action', cell: (e) => e.action },
            { title: 'Target', cell: (e) => <code class="audit-target">{e.target ?? '—'}</code> },
            {
              title: 'Details',
              cell: (e) => <code class="audit-details">{summary(e.details)}</code>,
              wide: true,
            },
          ]}
        />
        <nav class="pager" aria-label="Audit pages">
          <button type="button" disabled={!before} onClick={goNewer}>
            Newer
          </button>
          <span>Page {pageNumber}</span>
          <button type="button" disabled={!log.data?.next} onClick={goOlder}>
            Older
          </button>
        </nav>
      </Section>
    </>
  );
}
