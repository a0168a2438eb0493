import type { FunctionComponent } from 'preact';
import type { Scope } from '../../src/keys/scopes.ts';
import { AccessPage } from './access.tsx';
import { ApprovalsPage } from './approvals.tsx';
import { AuditPage } from './audit.tsx';
import { DeliveriesPage } from './deliveries.tsx';
import { DeliveryPage } from './delivery.tsx';
import { EgressPage } from './egress.tsx';
import { IntegrationPage } from './integration.tsx';
import { IntegrationsPage } from './integrations.tsx';
import { KeysPage } from './keys.tsx';
import { OutboxEntryPage, OutboxPage } from './outbox.tsx';
import { OverviewPage } from './overview.tsx';
import { SessionPage } from './session.tsx';
import { SessionsPage } from './sessions.tsx';
import { TaskPage } from './task.tsx';
import { TasksPage } from './tasks.tsx';
import { TracePage } from './trace.tsx';
import type { PageProps } from './types.ts';

export interface Route {
  pattern: string;
  title: string;
  page: FunctionComponent<PageProps>;
  /** Shown in the navigation (list pages only). */
  nav?: boolean;
  /** The scope the page needs to show anything; without it the page is not offered. */
  scope?: Scope;
}

/** Every view of the console, the navigation in this order. */
export const ROUTES: Route[] = [
  { pattern: '/', title: 'Overview', page: OverviewPage, nav: true },
  {
    pattern: '/integrations',
    title: 'Integrations',
    page: IntegrationsPage,
    nav: true,
    scope: 'integrations:read',
  },
  {
    pattern: '/integrations/:name',
    title: 'Integration',
    page: IntegrationPage,
    scope: 'integrations:read',
  },
  { pattern: '/tasks', title: 'Tasks', page: TasksPage, nav: true, scope: 'tasks:read' },
  { pattern: '/tasks/:id', title: 'Task', page: TaskPage, scope: 'tasks:read' },
  {
    pattern: '/sessions',
    title: 'Sessions',
    page: SessionsPage,
    nav: true,
    scope: 'sessions:read',
  },
  { pattern: '/sessions/:id', title: 'Session', page: SessionPage, scope: 'sessions:read' },
  {
    pattern: '/deliveries',
    title: 'Deliveries',
    page: DeliveriesPage,
    nav: true,
    scope: 'deliveries:read',
  },
  { pattern: '/deliveries/:id', title: 'Delivery', page: DeliveryPage, scope: 'deliveries:read' },
  // The trace of a delivery or task (needs deliveries:read too: the page says so).
  { pattern: '/trace/:kind/:id', title: 'Trace', page: TracePage, scope: 'tasks:read' },
  { pattern: '/outbox', title: 'Outbox', page: OutboxPage, nav: true, scope: 'outbox:read' },
  { pattern: '/outbox/:id', title: 'Outbox entry', page: OutboxEntryPage, scope: 'outbox:read' },
  {
    pattern: '/approvals',
    title: 'Approvals',
    page: ApprovalsPage,
    nav: true,
    scope: 'approvals:read',
  },
  { pattern: '/access', title: 'Access', page: AccessPage, nav: true, scope: 'tasks:read' },
  { pattern: '/keys', title: 'API keys', page: KeysPage, nav: true, scope: 'keys:read' },
  { pattern: '/audit', title: 'Audit log', page: AuditPage, nav: true, scope: 'audit:read' },
  // The egress proxy's connection log (issue 21): the audit of where integrations went.
  { pattern: '/egress', title: 'Egress', page: EgressPage, nav: true, scope: 'audit:read' },
];
