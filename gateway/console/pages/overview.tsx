import type { ComponentChildren } from 'preact';
import { ErrorBox, Loading, Notice, PageHeader, Section, Table } from '../components/ui.tsx';
import { get } from '../lib/api.ts';
import { ago } from '../lib/format.ts';
import { LIVE_MS, useLoad } from '../lib/live.ts';
import { href } from '../lib/router.ts';
import { integrationColumns } from './integrations.tsx';
import type { PageProps } from './types.ts';
import './integrations.css';

interface OverviewIntegration {
  name: string;
  state: string;
  reasons: number;
  changed: boolean;
}

/** GET /api/v1/overview: only the sections the key's read scopes allow. */
interface Overview {
  integrations?: {
    counts: Record<string, number>;
    items: OverviewIntegration[];
  };
  tasks?: {
    pending: number;
    running: number;
    oldestPendingAt: string | null;
    failedLastDay: number;
    recentFailures: Array<{
      id: string;
      profile: string | null;
      error: string | null;
      finishedAt: string | null;
    }>;
  };
  deliveries?: {
    pending: number;
    processing: number;
    oldestPendingAt: string | null;
    failed: number;
    recentFailures: Array<{
      id: string;
      integration: string;
      endpoint: string;
      error: string | null;
      receivedAt: string;
    }>;
  };
  outbox?: {
    pending: number;
    oldestPendingAt: string | null;
    dead: number;
    recentDead: Array<{
      id: string;
      kind: string;
      taskId: string | null;
      lastError: string | null;
      deadAt: string | null;
    }>;
  };
}

function Stat(props: { n: ComponentChildren; label: string; to: string; sub?: string }) {
  return (
    <a class="stat card" href={props.to}>
      <span class="n">{props.n}</span> <span class="label">{props.label}</span>
      {props.sub && <span class="sub"> ({props.sub})</span>}
    </a>
  );
}

const waiting = (at: string | null) =>
  at ? `oldest waiting ${ago(at).replace(' ago', '')}` : 'none waiting';

/** The console's first page (issue 16): what needs attention, each linking to its page. Live. */
export function OverviewPage(_props: PageProps) {
  const view = useLoad(() => get<Overview>('/overview'), [], LIVE_MS);
  const data = view.data;
  const none = data && Object.keys(data).length === 0;
  return (
    <>
      <PageHeader title="Overview">
        <Loading loading={view.loading && !data} />
      </PageHeader>
      <ErrorBox error={view.error} />
      {none && (
        <Notice>
          This key can read none of integrations, tasks, deliveries or the outbox, so there is
          nothing to show here.
        </Notice>
      )}
      {data?.integrations && (
        <Section title="Integrations" id="ov-integrations">
          <Table
            label="Integration states"
            rows={data.integrations.items}
            rowKey={(i) => i.name}
            empty="No integrations."
            columns={[
              ...integrationColumns<OverviewIntegration>(),
              {
                title: 'Reasons',
                cell: (i) =>
                  i.reasons > 0
                    ? `${i.reasons} ${i.reasons === 1 ? 'reason' : 'reasons'}: open it to see`
                    : '',
                wide: true,
              },
            ]}
          />
        </Section>
      )}
      {data?.tasks && (
        <Section title="Tasks" id="ov-tasks">
          <div class="grid">
            <Stat
              n={data.tasks.running}
              label="running"
              to={href('/tasks', { status: 'running' })}
            />
            <Stat
              n={data.tasks.pending}
              label="pending"
              to={href('/tasks', { status: 'pending' })}
              sub={waiting(data.tasks.oldestPendingAt)}
            />
            <Stat
              n={data.tasks.failedLastDay}
              label="failed in the last 24 h"
              to={href('/tasks', { status: 'failed' })}
            />
          </div>
          <h3>Recent failures</h3>
          <Table
            label="Recently failed tasks"
            rows={data.tasks.recentFailures}
            rowKey={(t) => t.id}
            empty="No failed tasks."
            columns={[
              {
                title: 'Task',
                cell: (t) => (
                  <a class="mono" href={href(`/tasks/${t.id}`)}>
                    {t.id.slice(0, 8)}
                  </a>
                ),
              },
              { title: 'Error', cell: (t) => t.error ?? '' },
              { title: 'Profile', cell: (t) => t.profile ?? '—', wide: true },
              { title: 'Failed', cell: (t) => ago(t.finishedAt), wide: true },
            ]}
          />
        </Section>
      )}
      {data?.deliveries && (
        <Section title="Webhook deliveries" id="ov-deliveries">
          <div class="grid">
            <Stat
              n={data.deliveries.pending}
              label="pending"
              to={href('/deliveries', { status: 'pending' })}
              sub={waiting(data.deliveries.oldestPendingAt)}
            />
            <Stat
              n={data.deliveries.processing}
              label="processing"
              to={href('/deliveries', { status: 'processing' })}
            />
            <Stat
              n={data.deliveries.failed}
              label="failed (dead letters)"
              to={href('/deliveries', { status: 'failed' })}
            />
          </div>
          <h3>Recent failures</h3>
          <Table
            label="Recently failed deliveries"
            rows={data.deliveries.recentFailures}
            rowKey={(d) => d.id}
            empty="No failed deliveries."
            columns={[
              {
                title: 'Delivery',
                cell: (d) => (
                  <a href={href(`/deliveries/${d.id}`)}>
                    {d.integration}/{d.endpoint}
                  </a>
                ),
              },
              { title: 'Error', cell: (d) => d.error ?? '' },
              { title: 'Received', cell: (d) => ago(d.receivedAt), wide: true },
            ]}
          />
        </Section>
      )}
      {data?.outbox && (
        <Section title="Outbox" id="ov-outbox">
          <div class="grid">
            <Stat
              n={data.outbox.pending}
              label="pending"
              to={href('/outbox', { status: 'pending' })}
              sub={waiting(data.outbox.oldestPendingAt)}
            />
            <Stat
              n={data.outbox.dead}
              label="dead letters"
              to={href('/outbox', { status: 'dead' })}
            />
          </div>
          <h3>Recent dead letters</h3>
          <Table
            label="Recent dead letters"
            rows={data.outbox.recentDead}
            rowKey={(o) => o.id}
            empty="No dead letters."
            columns={[
              {
                title: 'Entry',
                cell: (o) => (
                  <a href={href('/outbox', { status: 'dead' })}>
                    {o.kind} #{o.id}
                  </a>
                ),
              },
              { title: 'Error', cell: (o) => o.lastError ?? '' },
              {
                title: 'Task',
                cell: (o) =>
                  o.taskId ? (
                    <a class="mono" href={href(`/tasks/${o.taskId}`)}>
                      {o.taskId.slice(0, 8)}
                    </a>
                  ) : (
                    '—'
                  ),
                wide: true,
              },
              { title: 'Dead', cell: (o) => ago(o.deadAt), wide: true },
            ]}
          />
        </Section>
      )}
    </>
  );
}
