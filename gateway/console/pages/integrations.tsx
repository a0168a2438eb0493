import {
  Badge,
  type Column,
  ErrorBox,
  Loading,
  Notice,
  PageHeader,
  Table,
} from '../components/ui.tsx';
import { get } from '../lib/api.ts';
import { LIVE_MS, useLoad } from '../lib/live.ts';
import { href } from '../lib/router.ts';
import { EgressMode } from './egress-mode.tsx';
import type { IntegrationSummary } from './integration-types.ts';
import type { PageProps } from './types.ts';
import './integrations.css';

/** The name (linking to its page) and state columns, here and on the overview. */
export function integrationColumns<
  T extends { name: string; state: string; changed: boolean },
>(): Column<T>[] {
  return [
    {
      title: 'Name',
      cell: (i) => <a href={href(`/integrations/${encodeURIComponent(i.name)}`)}>{i.name}</a>,
    },
    {
      title: 'State',
      cell: (i) => (
        <>
          <Badge value={i.state} />
          {i.changed && (
            <>
              {' '}
              <span class="badge warn">tools changed</span>
            </>
          )}
        </>
      ),
    },
  ];
}

/** Every integration with its state and, when it is not ready, why (issue 16). Live. */
export function IntegrationsPage(_props: PageProps) {
  const list = useLoad(
    () => get<{ integrations: IntegrationSummary[] }>('/integrations'),
    [],
    LIVE_MS,
  );
  const rows = list.data?.integrations;
  const notReady = rows?.filter((i) => i.state !== 'ready').length ?? 0;
  return (
    <>
      <PageHeader title="Integrations">
        <Loading loading={list.loading && !list.data} />
      </PageHeader>
      <ErrorBox error={list.error} />
      {rows && notReady > 0 && (
        <Notice>
          {notReady} of {rows.length} integrations {notReady === 1 ? 'is' : 'are'} not ready: open
          one to see why and what to do.
        </Notice>
      )}
      <div class="card">
        <Table
          label="Integrations"
          rows={rows}
          rowKey={(i) => i.name}
          empty="No integrations found in INTEGRATION_DIRS."
          columns={[
            ...integrationColumns<IntegrationSummary>(),
            { title: 'Egress', cell: (i) => <EgressMode mode={i.egress} /> },
            {
              title: 'Why',
              cell: (i) =>
                i.reasons.length > 0
                  ? i.reasons.map((r) => r.message).join(' · ')
                  : (i.lastError ?? ''),
            },
            { title: 'Tools', cell: (i) => i.tools.length, wide: true },
            { title: 'Version', cell: (i) => i.version ?? '—', wide: true },
            { title: 'Transport', cell: (i) => i.transport ?? '—', wide: true },
          ]}
        />
      </div>
    </>
  );
}
