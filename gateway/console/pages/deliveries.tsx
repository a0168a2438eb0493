import { useEffect, useState } from 'preact/hooks';
import { Badge, ErrorBox, Loading, PageHeader, Section, Table } from '../components/ui.tsx';
import { get } from '../lib/api.ts';
import { ago, timestamp } from '../lib/format.ts';
import { LIVE_MS, useLoad } from '../lib/live.ts';
import { href, replaceQuery } from '../lib/router.ts';
import { FilterSelect, Pager, usePaging } from './queues-common.tsx';
import type { PageProps } from './types.ts';
import './queues.css';

/** GET /api/v1/deliveries (api/deliveries.ts DeliveryView). */
export interface Delivery {
  id: string;
  kind: 'webhook' | 'schedule';
  integration: string;
  endpoint: string;
  deliveryId: string;
  status: string;
  attempts: number;
  maxAttempts: number;
  runAt: string;
  error: string | null;
  result: Record<string, unknown> | null;
  replayOf: string | null;
  receivedAt: string;
  processedAt: string | null;
}

export const DELIVERY_STATUSES = ['pending', 'processing', 'done', 'ignored', 'failed'] as const;
const PAGE_SIZE = 25;

/** A sender's delivery id can be long (sha256:…): its start names it in a list. */
export const short = (id: string) => (id.length > 24 ? `${id.slice(0, 23)}…` : id);

/** What came in through webhooks and schedule fires, newest first, filtered and paged. */
export function DeliveriesPage(props: PageProps) {
  const integration = props.query.get('integration') ?? '';
  const status = props.query.get('status') ?? '';
  const kind = props.query.get('kind') ?? '';
  const paging = usePaging();
  const filterKey = `${integration}|${status}|${kind}`;
  const [draft, setDraft] = useState(integration);
  // A new filter starts again at the first page.
  useEffect(() => paging.reset(), [filterKey]);
  const list = useLoad(
    () =>
      get<{ deliveries: Delivery[]; next: string | null }>('/deliveries', {
        integration,
        status,
        kind,
        limit: PAGE_SIZE,
        cursor: paging.cursor,
      }),
    [filterKey, paging.cursor],
    LIVE_MS,
  );
  const set = (change: Record<string, string>) =>
    replaceQuery({ integration, status, kind, ...change });

  return (
    <>
      <PageHeader title="Deliveries">
        <Loading loading={list.loading} />
      </PageHeader>
      <form
        class="filters"
        aria-label="Filter deliveries"
        onSubmit={(e) => {
          e.preventDefault();
          set({ integration: draft.trim() });
        }}
      >
        <div class="field">
          <label for="deliveries-integration">Integration</label>
          <input
            id="deliveries-integration"
            value={draft}
            placeholder="any"
            onInput={(e) => setDraft((e.currentTarget as HTMLInputElement).value)}
            onChange={(e) =>
              set({ integration: (e.currentTarget as HTMLInputElement).value.trim() })
            }
          />
        </div>
        <FilterSelect
          id="deliveries-status"
          label="Status"
          value={status}
          options={DELIVERY_STATUSES}
          onChange={(v) => set({ status: v })}
        />
        <FilterSelect
          id="deliveries-kind"
          label="Kind"
          value={kind}
          options={['webhook', 'schedule']}
          onChange={(v) => set({ kind: v })}
        />
      </form>
      <ErrorBox error={list.error} />
      <Section title="Received, newest first">
        <Table
          label="Deliveries"
          rows={list.data?.deliveries}
          rowKey={(d) => d.id}
          empty="No deliveries match."
          columns={[
            {
              title: 'Delivery',
              cell: (d) => (
                <a href={href(`/deliveries/${d.id}`)} title={d.deliveryId}>
                  {short(d.deliveryId)}
                </a>
              ),
            },
            {
              title: 'Received',
              cell: (d) => <span title={timestamp(d.receivedAt)}>{ago(d.receivedAt)}</span>,
            },
            { title: 'Integration', cell: (d) => d.integration },
            { title: 'Endpoint', cell: (d) => d.endpoint, wide: true },
            { title: 'Kind', cell: (d) => d.kind, wide: true },
            { title: 'Status', cell: (d) => <Badge value={d.status} /> },
            { title: 'Attempts', cell: (d) => `${d.attempts}/${d.maxAttempts}`, wide: true },
            {
              title: 'Replay of',
              wide: true,
              cell: (d) =>
                d.replayOf ? (
                  <a href={href(`/deliveries/${d.replayOf}`)}>{d.replayOf.slice(0, 8)}</a>
                ) : (
                  '—'
                ),
            },
            { title: 'Error', cell: (d) => d.error ?? '—', wide: true },
          ]}
        />
        <Pager paging={paging} next={list.data?.next} label="Deliveries" />
      </Section>
    </>
  );
}
