import { useEffect, useState } from 'preact/hooks';
import { Badge, ErrorBox, Loading, PageHeader, Section, Table } from '../components/ui.tsx';
import { describeError, get, post } from '../lib/api.ts';
import { ago, json, timestamp } from '../lib/format.ts';
import { LIVE_MS, useLoad } from '../lib/live.ts';
import { href, replaceQuery } from '../lib/router.ts';
import { can } from '../lib/session.ts';
import { FilterSelect, Pager, usePaging } from './queues-common.tsx';
import type { PageProps } from './types.ts';
import './queues.css';

/** GET /api/v1/approvals (api/approvals.ts ApprovalView). */
interface Approval {
  id: string;
  taskId: string;
  rule: string;
  integration: string;
  tool: string;
  arguments: unknown;
  status: string;
  requestedAt: string;
  expiresAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  reason: string | null;
  usedAt: string | null;
}

const APPROVAL_STATUSES = ['pending', 'approved', 'denied', 'expired', 'cancelled'] as const;
const PAGE_SIZE = 25;

/** Approve or deny one held call; a denial needs a reason (the agent and the audit log get it). */
function Decide(props: { approval: Approval; done: () => void }) {
  const a = props.approval;
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const decide = async (verb: 'approve' | 'deny') => {
    const text = reason.trim();
    if (verb === 'deny' && !text) {
      setError('A denial needs a reason.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await post(`/approvals/${a.id}/${verb}`, text ? { reason: text } : {});
      props.done();
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  const id = `reason-${a.id}`;
  return (
    <div class="queue-decide">
      <label for={id} class="queue-hidden-label">
        Reason for {a.integration}:{a.tool}
      </label>
      <input
        id={id}
        value={reason}
        maxLength={1000}
        placeholder="Reason (needed to deny)"
        onInput={(e) => setReason((e.currentTarget as HTMLInputElement).value)}
      />
      <span class="queue-row-actions">
        <button type="button" class="primary" disabled={busy} onClick={() => decide('approve')}>
          Approve
        </button>
        <button type="button" class="danger" disabled={busy} onClick={() => decide('deny')}>
          Deny
        </button>
      </span>
      {error && (
        <span class="error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

/** Tool calls that policy `approvals` rules hold, waiting for an operator (issue 15). */
export function ApprovalsPage(props: PageProps) {
  // Pending by default: that is what waits for someone. "any" is the empty value.
  const raw = props.query.get('status');
  const status = raw === null ? 'pending' : raw === 'any' ? '' : raw;
  const task = props.query.get('task') ?? '';
  const filterKey = `${status}|${task}`;
  const paging = usePaging();
  // A new filter starts again at the first page.
  useEffect(() => paging.reset(), [filterKey]);
  const list = useLoad(
    () =>
      get<{ approvals: Approval[]; next: string | null }>('/approvals', {
        status,
        task,
        limit: PAGE_SIZE,
        cursor: paging.cursor,
      }),
    [filterKey, paging.cursor],
    LIVE_MS,
  );
  const writable = can('approvals:write');

  return (
    <>
      <PageHeader title="Approvals">
        <Loading loading={list.loading} />
      </PageHeader>
      <form class="filters" aria-label="Filter approvals" onSubmit={(e) => e.preventDefault()}>
        <FilterSelect
          id="approvals-status"
          label="Status"
          value={status}
          options={APPROVAL_STATUSES}
          onChange={(v) => replaceQuery({ status: v || 'any', task })}
        />
        {task && (
          <p>
            Task <span class="mono">{task.slice(0, 8)}</span>{' '}
            <button
              type="button"
              class="link"
              onClick={() => replaceQuery({ status: status || 'any' })}
            >
              show every task
            </button>
          </p>
        )}
      </form>
      <ErrorBox error={list.error} />
      <Section title={status === 'pending' ? 'Waiting for a decision' : 'Requests, newest first'}>
        <Table
          label="Approval requests"
          rows={list.data?.approvals}
          rowKey={(a) => a.id}
          empty={status === 'pending' ? 'No call is waiting for approval.' : 'No requests match.'}
          columns={[
            {
              title: 'Tool',
              cell: (a) => (
                <span class="mono" title={a.id}>
                  {a.integration}:{a.tool}
                </span>
              ),
            },
            {
              title: 'Arguments',
              wide: true,
              cell: (a) => <pre class="code queue-args">{json(a.arguments)}</pre>,
            },
            { title: 'Rule', cell: (a) => a.rule, wide: true },
            {
              title: 'Task',
              cell: (a) => (
                <a href={href(`/tasks/${a.taskId}`)} class="mono">
                  {a.taskId.slice(0, 8)}
                </a>
              ),
            },
            {
              title: 'Requested',
              wide: true,
              cell: (a) => <span title={timestamp(a.requestedAt)}>{ago(a.requestedAt)}</span>,
            },
            {
              title: 'Expires',
              cell: (a) =>
                a.status === 'pending' ? (
                  <span title={timestamp(a.expiresAt)}>{ago(a.expiresAt)}</span>
                ) : (
                  '—'
                ),
            },
            { title: 'Status', cell: (a) => <Badge value={a.status} /> },
            {
              title: 'Decision',
              wide: true,
              cell: (a) =>
                a.decidedBy
                  ? `${a.decidedBy}${a.reason ? `: ${a.reason}` : ''}`
                  : (a.reason ?? '—'),
            },
            ...(writable
              ? [
                  {
                    title: 'Decide',
                    cell: (a: Approval) =>
                      a.status === 'pending' ? <Decide approval={a} done={list.reload} /> : null,
                  },
                ]
              : []),
          ]}
        />
        <Pager paging={paging} next={list.data?.next} label="Approvals" />
      </Section>
    </>
  );
}
