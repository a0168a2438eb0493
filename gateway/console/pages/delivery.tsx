import {
  ActionButton,
  Badge,
  Code,
  ErrorBox,
  KeyValue,
  Notice,
  PageHeader,
  Section,
  Table,
} from '../components/ui.tsx';
import { get, post } from '../lib/api.ts';
import { ago, json, timestamp } from '../lib/format.ts';
import { LIVE_MS, useLoad } from '../lib/live.ts';
import { href, navigate } from '../lib/router.ts';
import { can } from '../lib/session.ts';
import type { Delivery } from './deliveries.tsx';
import { canTrace, traceHref } from './trace.tsx';
import type { PageProps } from './types.ts';
import './queues.css';

/** GET /api/v1/deliveries/:id: the list's view plus what came in and what it became. */
interface DeliveryDetail extends Delivery {
  /** As stored: secret and signature headers are never stored, secret-looking ones hidden. */
  headers: Record<string, string>;
  body: string;
  tasks: Array<{ id: string; status: string; sessionId: string | null }>;
}

/** The body as sent; JSON indented when it is JSON. */
function shownBody(body: string): string {
  try {
    return json(JSON.parse(body));
  } catch {
    return body;
  }
}

export function DeliveryPage(props: PageProps) {
  const id = props.params.id ?? '';
  const replayed = props.query.get('replayed');
  const loaded = useLoad(
    () => get<{ delivery: DeliveryDetail }>(`/deliveries/${encodeURIComponent(id)}`),
    [id],
    LIVE_MS,
  );
  // A previous delivery's data is not shown while this one loads.
  const d = loaded.data?.delivery.id === id ? loaded.data.delivery : undefined;
  const headers = d ? Object.entries(d.headers).sort(([a], [b]) => a.localeCompare(b)) : [];

  return (
    <>
      <PageHeader title={d ? `Delivery ${d.deliveryId}` : 'Delivery'}>
        {d && can('deliveries:write') && (
          <ActionButton
            label="Replay"
            tone="primary"
            confirm="Queue a copy of this delivery to be processed again?"
            run={async () => {
              const answer = await post<{ delivery: Delivery }>(`/deliveries/${d.id}/replay`);
              navigate(`/deliveries/${answer.delivery.id}`, { replayed: d.id });
            }}
          />
        )}
      </PageHeader>
      <p>
        <a href={href('/deliveries')}>All deliveries</a>
        {canTrace() && (
          <>
            {' · '}
            <a href={traceHref('deliveries', id)}>Trace: handler, tasks, tool calls, dispatches</a>
          </>
        )}
      </p>
      {replayed && (
        <Notice>
          Queued as a replay of <a href={href(`/deliveries/${replayed}`)}>the original delivery</a>.
        </Notice>
      )}
      <ErrorBox error={loaded.error} />
      {d && (
        <>
          <Section title="Delivery">
            <KeyValue
              label="Delivery"
              rows={[
                ['Status', <Badge key="s" value={d.status} />],
                [
                  'Integration',
                  <a key="i" href={href(`/integrations/${d.integration}`)}>
                    {d.integration}
                  </a>,
                ],
                ['Endpoint', d.endpoint],
                ['Kind', d.kind],
                [
                  'Delivery id',
                  <span key="d" class="mono">
                    {d.deliveryId}
                  </span>,
                ],
                ['Attempts', `${d.attempts} of ${d.maxAttempts}`],
                ['Received', `${timestamp(d.receivedAt)} (${ago(d.receivedAt)})`],
                [
                  'Next run',
                  d.status === 'pending' ? `${timestamp(d.runAt)} (${ago(d.runAt)})` : '—',
                ],
                [
                  'Processed',
                  d.processedAt ? `${timestamp(d.processedAt)} (${ago(d.processedAt)})` : '—',
                ],
                [
                  'Replay of',
                  d.replayOf ? (
                    <a key="r" href={href(`/deliveries/${d.replayOf}`)}>
                      {d.replayOf}
                    </a>
                  ) : (
                    '—'
                  ),
                ],
                [
                  'Error',
                  d.error ? (
                    <span key="e" class="error">
                      {d.error}
                    </span>
                  ) : (
                    '—'
                  ),
                ],
              ]}
            />
          </Section>
          <Section title="Resulting tasks">
            <Table
              label="Resulting tasks"
              rows={d.tasks}
              rowKey={(t) => t.id}
              empty="No task (yet): the delivery made none, or has not been processed."
              columns={[
                {
                  title: 'Task',
                  cell: (t) => (
                    <a href={href(`/tasks/${t.id}`)} class="mono">
                      {t.id}
                    </a>
                  ),
                },
                { title: 'Status', cell: (t) => <Badge value={t.status} /> },
                {
                  title: 'Session',
                  wide: true,
                  cell: (t) =>
                    t.sessionId ? (
                      <a href={href(`/sessions/${t.sessionId}`)}>{t.sessionId.slice(0, 8)}</a>
                    ) : (
                      '—'
                    ),
                },
              ]}
            />
          </Section>
          {d.result && (
            <Section title="Result">
              <Code>{json(d.result)}</Code>
            </Section>
          )}
          <Section title="Headers">
            <p class="empty">
              Signature and secret headers are never stored; secret-looking ones are hidden.
            </p>
            <Table
              label="Headers"
              rows={headers}
              rowKey={([name]) => name}
              empty="No headers stored."
              columns={[
                { title: 'Name', cell: ([name]) => <span class="mono">{name}</span> },
                {
                  title: 'Value',
                  cell: ([, value]) => <span class="mono queue-header-value">{value}</span>,
                },
              ]}
            />
          </Section>
          <Section title="Body">
            <Code>{shownBody(d.body) || '(empty)'}</Code>
          </Section>
        </>
      )}
    </>
  );
}
