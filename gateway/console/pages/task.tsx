import { useEffect, useRef, useState } from 'preact/hooks';
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
import { ago, duration, json, timestamp } from '../lib/format.ts';
import { useLoad } from '../lib/live.ts';
import { href } from '../lib/router.ts';
import { can } from '../lib/session.ts';
import {
  type Described,
  describeEvent,
  EVENT_TYPES,
  type TaskEvent,
  TERMINAL_EVENTS,
} from './task-events.ts';
import { isEnded, type TaskTokenView, type TaskView } from './task-types.ts';
import { taskDuration } from './tasks.tsx';
import { canTrace, traceHref } from './trace.tsx';
import type { PageProps } from './types.ts';
import './tasks.css';

interface TaskAnswer {
  task: TaskView;
  budget?: {
    calls: number;
    limits: { toolCalls?: number };
    upstreamBytes: number;
    exceeded: string[];
  } | null;
}

type StreamState = 'connecting' | 'live' | 'reconnecting' | 'ended' | 'failed';

/**
 * Events the page keeps: an agent streaming output writes thousands; the newest 1,000 stay
 * (the API keeps them all), so a long task cannot slow the tab down without bound.
 */
const MAX_TIMELINE_EVENTS = 1_000;

/**
 * The task's events over SSE (GET /api/v1/tasks/:id/events, the session cookie goes with the
 * same-origin EventSource): every event so far, then each as it commits. The browser reconnects
 * by itself with Last-Event-ID; the page closes the stream after the terminal event (the gateway
 * ends it there, and a reconnect would only wait).
 */
function useTaskEvents(id: string, onEvent: (e: TaskEvent) => void) {
  const [events, setEvents] = useState<TaskEvent[]>([]);
  const [received, setReceived] = useState(0);
  const [state, setState] = useState<StreamState>('connecting');
  const onEventRef = useRef(onEvent);
  onEventRef.current = onEvent;
  useEffect(() => {
    setEvents([]);
    setState('connecting');
    setReceived(0);
    let lastSeq = 0;
    const source = new EventSource(`/api/v1/tasks/${encodeURIComponent(id)}/events`, {
      withCredentials: true,
    });
    let ended = false;
    const receive = (message: MessageEvent<string>) => {
      let event: TaskEvent;
      try {
        event = JSON.parse(message.data) as TaskEvent;
      } catch {
        return;
      }
      // The stream resends nothing it sent (resume by Last-Event-ID), but a reconnect racing an
      // event may: seq is the event's identity, and increasing.
      if (Number(event.seq) <= lastSeq) return;
      lastSeq = Number(event.seq);
      setReceived((n) => n + 1);
      setEvents((list) =>
        list.length < MAX_TIMELINE_EVENTS ? [...list, event] : [...list.slice(1), event],
      );
      onEventRef.current(event);
      if (TERMINAL_EVENTS.has(event.type)) {
        ended = true;
        source.close();
        setState('ended');
      }
    };
    for (const type of EVENT_TYPES) source.addEventListener(type, receive);
    source.onopen = () => setState('live');
    source.onerror = () => {
      if (ended) return;
      // CLOSED: the browser gave up (a 401/404 answer); CONNECTING: it retries by itself.
      setState(source.readyState === EventSource.CLOSED ? 'failed' : 'reconnecting');
    };
    return () => {
      ended = true;
      source.close();
    };
  }, [id]);
  return { events, state, dropped: received - events.length };
}

const STREAM_WORDS: Record<StreamState, string> = {
  connecting: 'Connecting to the event stream…',
  live: 'Live: new events appear as they happen.',
  reconnecting: 'The stream dropped; reconnecting…',
  ended: 'The task has ended: this is its whole history.',
  failed: 'The event stream could not be opened.',
};

function Timeline(props: { events: TaskEvent[] }) {
  // An agent tool's result says how long its call took (the call event with the same id).
  const callAt = new Map<string, number>();
  const rows: Array<{ e: TaskEvent; d: Described }> = [];
  for (const e of props.events) {
    let took: number | undefined;
    if (e.type === 'task:agent_tool' && typeof e.data.id === 'string') {
      if (e.data.phase === 'result') {
        const start = callAt.get(e.data.id);
        if (start !== undefined) took = new Date(e.createdAt).getTime() - start;
      } else callAt.set(e.data.id, new Date(e.createdAt).getTime());
    }
    rows.push({ e, d: describeEvent(e, took) });
  }
  if (rows.length === 0) return <p class="empty">No events yet.</p>;
  return (
    <ol class="timeline" aria-label="Task events">
      {rows.map(({ e, d }) => (
        <li key={e.seq} class={`tone-${d.tone}`} data-type={e.type}>
          <div class="event-head">
            <span class={`badge ${d.tone}`}>{d.kind}</span>
            <time class="when" dateTime={e.createdAt}>
              {timestamp(e.createdAt)}
            </time>
          </div>
          <p class="event-text">{d.text}</p>
          <details>
            <summary>
              {e.type} #{e.seq}
            </summary>
            <Code>{json(e.data)}</Code>
          </details>
        </li>
      ))}
    </ol>
  );
}

function tokenState(t: TaskTokenView): string {
  if (t.revokedAt) return 'revoked';
  return new Date(t.expiresAt).getTime() <= Date.now() ? 'expired' : 'active';
}

/** The endpoint of a token without the gateway's origin (/mcp, /mcp/<integration>). */
function audiencePath(audience: string): string {
  try {
    return new URL(audience).pathname;
  } catch {
    return audience;
  }
}

function Tokens(props: { tokens: TaskTokenView[] | undefined }) {
  return (
    <Table
      label="Tokens of the task"
      rows={props.tokens}
      rowKey={(t) => t.jti}
      empty="No tokens were minted for this task (yet)."
      columns={[
        {
          title: 'Audience',
          cell: (t) => <code title={t.audience}>{audiencePath(t.audience)}</code>,
        },
        { title: 'State', cell: (t) => <Badge value={tokenState(t)} /> },
        {
          title: 'Expires',
          cell: (t) => <time dateTime={t.expiresAt}>{ago(t.expiresAt)}</time>,
        },
        { title: 'Scope', wide: true, cell: (t) => t.scope.join(' ') },
        { title: 'Issued', wide: true, cell: (t) => timestamp(t.issuedAt) },
        {
          title: 'Revoked',
          wide: true,
          cell: (t) => (t.revokedAt ? timestamp(t.revokedAt) : '—'),
        },
      ]}
    />
  );
}

/** /tasks/:id: the task's fields, its live event timeline, its scope and tokens; Cancel. */
export function TaskPage({ params }: PageProps) {
  const id = params.id!;
  const task = useLoad(() => get<TaskAnswer>(`/tasks/${encodeURIComponent(id)}`), [id]);
  const tokens = useLoad(
    () => get<{ tokens: TaskTokenView[] }>(`/tasks/${encodeURIComponent(id)}/tokens`),
    [id],
  );
  const refreshOn = new Set(['task:started', 'task:running', 'task:requeued', 'task:completing']);
  const stream = useTaskEvents(id, (e) => {
    // The fields change with these: read the task (and its tokens) again.
    if (TERMINAL_EVENTS.has(e.type) || refreshOn.has(e.type)) {
      task.reload();
      tokens.reload();
    }
  });
  const t = task.data?.task;
  const budget = task.data?.budget;
  return (
    <>
      <PageHeader title={t ? `Task ${t.id.slice(0, 8)}` : 'Task'}>
        <Loading loading={task.loading && !t} />
        {t && <Badge value={t.status} />}
        {t && !isEnded(t.status) && can('tasks:write') && (
          <ActionButton
            label="Cancel task"
            tone="danger"
            confirm="Cancel this task? Its agent is stopped and its tokens are revoked."
            run={() => post(`/tasks/${encodeURIComponent(id)}/cancel`, {})}
            done={() => {
              task.reload();
              tokens.reload();
            }}
          />
        )}
      </PageHeader>
      {canTrace() && (
        <p>
          <a href={traceHref('tasks', id)}>
            Trace: the delivery that created it, tool calls and dispatches, with times
          </a>
        </p>
      )}
      <ErrorBox error={task.error} />
      {t && (
        <div class="grid">
          <Section title="Task" id="task-fields">
            <KeyValue
              label="Task fields"
              rows={[
                ['Id', <code key="id">{t.id}</code>],
                ['Status', <Badge key="s" value={t.status} />],
                ['Reason', t.reason],
                ['Error', t.error],
                ['Profile', t.profile ?? (t.external ? 'external agent' : null)],
                [
                  'Session',
                  t.sessionId ? (
                    <a key="sess" href={href(`/sessions/${t.sessionId}`)}>
                      {t.sessionId}
                    </a>
                  ) : null,
                ],
                ['Message', t.messageId],
                ['Attempts', `${t.attempts}${t.maxAttempts ? ` of ${t.maxAttempts}` : ''}`],
                ['Created', timestamp(t.createdAt)],
                ['Started', timestamp(t.startedAt)],
                ['Finished', timestamp(t.finishedAt)],
                ['Ran for', taskDuration(t)],
                ['Timeout', t.timeoutMs ? duration(t.timeoutMs) : null],
                ['Runner', t.leaseOwner],
                ['Lease until', t.leaseExpiresAt ? timestamp(t.leaseExpiresAt) : null],
                ['Idempotency key', t.idempotencyKey],
                [
                  'Budget',
                  budget
                    ? `${budget.calls}${budget.limits.toolCalls === undefined ? '' : ` of ${budget.limits.toolCalls}`} tool calls${budget.exceeded.length ? ` (exceeded: ${budget.exceeded.join(', ')})` : ''}`
                    : null,
                ],
              ]}
            />
          </Section>
          <Section title="Scope" id="task-scope">
            {t.scope.length === 0 ? (
              <p class="empty">No tools: the task may call none.</p>
            ) : (
              <ul class="scope-list" aria-label="Scope patterns">
                {t.scope.map((s) => (
                  <li key={s}>
                    <code>{s}</code>
                  </li>
                ))}
              </ul>
            )}
            {t.dispatch && (
              <>
                <h3>Dispatch</h3>
                <Code>{json(t.dispatch)}</Code>
              </>
            )}
          </Section>
        </div>
      )}
      {t && (
        <Section title="Prompt" id="task-prompt">
          <Code>{t.prompt}</Code>
        </Section>
      )}
      {t?.result !== null && t?.result !== undefined && (
        <Section title="Result" id="task-result">
          <Code>{t.result}</Code>
        </Section>
      )}
      <Section title="Events" id="task-events">
        <p class="live-state" role="status">
          {STREAM_WORDS[stream.state]}
        </p>
        {stream.dropped > 0 && (
          <p class="notice">
            {stream.dropped} earlier {stream.dropped === 1 ? 'event is' : 'events are'} not shown
            here (the page keeps the newest {MAX_TIMELINE_EVENTS}); the API has them all.
          </p>
        )}
        <Timeline events={stream.events} />
      </Section>
      <Section title="Tokens" id="task-tokens">
        <p class="live-state">
          What was minted for the task's agent: audience, scope and expiry. A token's value is shown
          once, to whoever it was issued to, never here.
        </p>
        <ErrorBox error={tokens.error} />
        <Tokens tokens={tokens.data?.tokens} />
      </Section>
    </>
  );
}
