import type { TraceNode } from '../../src/trace/nodes.ts';
import { Badge, ErrorBox, Loading, Notice, PageHeader, Section } from '../components/ui.tsx';
import { get } from '../lib/api.ts';
import { duration, timestamp } from '../lib/format.ts';
import { LIVE_MS, useLoad } from '../lib/live.ts';
import { href } from '../lib/router.ts';
import { can } from '../lib/session.ts';
import type { PageProps } from './types.ts';
import './trace.css';

interface TraceAnswer {
  trace: { root: TraceNode; focus: { kind: string; id: string }; limits: Record<string, number> };
}

/** The route of a trace: `#/trace/tasks/<id>` or `#/trace/deliveries/<id>`. */
export const traceHref = (kind: 'tasks' | 'deliveries', id: string) =>
  href(`/trace/${kind}/${encodeURIComponent(id)}`);

/** Both read scopes: a trace joins a delivery and its tasks. */
export const canTrace = () => can('tasks:read') && can('deliveries:read');

const offset = (ms: number) => `+${(ms / 1000).toFixed(3)} s`;

/** The page of the node's row itself, where there is one. */
function linkOf(node: TraceNode): string | undefined {
  if (node.kind === 'task') return href(`/tasks/${node.id}`);
  if (node.kind === 'delivery') return href(`/deliveries/${node.id}`);
  if (node.kind === 'outbox' && can('outbox:read')) return href(`/outbox/${node.id}`);
  return undefined;
}

function Node(props: { node: TraceNode; origin: number }) {
  const { node, origin } = props;
  const link = linkOf(node);
  const time = node.kind === 'omitted' ? '' : offset(Date.parse(node.startedAt) - origin);
  const took = node.running ? 'running' : node.durationMs === null ? '' : duration(node.durationMs);
  return (
    <li data-kind={node.kind} data-status={node.status}>
      <div class="trace-line">
        <span class="trace-time" title={timestamp(node.startedAt)}>
          {time}
        </span>
        <span class="trace-took">{took}</span>
        <span class="trace-label">{link ? <a href={link}>{node.label}</a> : node.label}</span>
        {node.kind !== 'omitted' && node.kind !== 'event' && <Badge value={node.status} />}
      </div>
      {node.error && <p class="trace-error">{node.error}</p>}
      {node.traceId && (
        <p class="trace-id">
          trace <code>{node.traceId}</code>
        </p>
      )}
      {node.children.length > 0 && (
        <ol>
          {node.children.map((child) => (
            <Node key={`${child.kind}:${child.id}`} node={child} origin={origin} />
          ))}
        </ol>
      )}
    </li>
  );
}

/** The chain of one delivery or task as a tree with times: the CLI's `switchboard trace`. */
export function TracePage(props: PageProps) {
  const kind = props.params.kind === 'deliveries' ? 'deliveries' : 'tasks';
  const id = props.params.id ?? '';
  const loaded = useLoad(
    () => get<TraceAnswer>(`/trace/${kind}/${encodeURIComponent(id)}`),
    [kind, id],
    LIVE_MS,
  );
  const trace = loaded.data?.trace.focus.id === id ? loaded.data.trace : undefined;
  const root = trace?.root;
  const what = kind === 'tasks' ? 'task' : 'delivery';
  return (
    <>
      <PageHeader title={`Trace of ${what} ${id.slice(0, 8)}`}>
        <Loading loading={loaded.loading && !root} />
      </PageHeader>
      <p>
        <a href={href(`/${kind}/${encodeURIComponent(id)}`)}>Back to the {what}</a>
      </p>
      {!canTrace() && (
        <Notice>A trace needs both tasks:read and deliveries:read; this key lacks one.</Notice>
      )}
      <ErrorBox error={loaded.error} />
      {root && trace && (
        <Section title="Trace" id="trace-tree">
          <p class="empty">
            Offsets from the {root.kind === 'delivery' ? 'delivery' : 'task'}'s start, then how long
            each step took. At most {trace.limits.tasksPerDelivery} tasks and{' '}
            {trace.limits.toolCallsPerTaskHere} tool calls per task are shown.
          </p>
          <ol class="trace-tree" aria-label="Trace">
            <Node node={root} origin={Date.parse(root.startedAt)} />
          </ol>
        </Section>
      )}
    </>
  );
}
