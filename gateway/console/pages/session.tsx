import { useState } from 'preact/hooks';
import {
  Badge,
  Code,
  ErrorBox,
  Field,
  KeyValue,
  Loading,
  Notice,
  PageHeader,
  Section,
} from '../components/ui.tsx';
import { describeError, get, post } from '../lib/api.ts';
import { json, timestamp } from '../lib/format.ts';
import { LIVE_MS, useLoad } from '../lib/live.ts';
import { href } from '../lib/router.ts';
import { can } from '../lib/session.ts';
import type { MessageView, SessionView, TaskList, TaskView } from './task-types.ts';
import { TaskTable } from './tasks.tsx';
import type { PageProps } from './types.ts';
import './tasks.css';

/** Messages per read; a longer session shows a "later messages" link to the next read. */
const MESSAGES = 100;

function PostMessage(props: { session: SessionView; posted: () => void }) {
  const [content, setContent] = useState('');
  const [role, setRole] = useState('user');
  const [run, setRun] = useState(false);
  const [notify, setNotify] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<{ message: MessageView; task: TaskView | null } | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const answer = await post<{ message: MessageView; task: TaskView | null }>(
        `/sessions/${encodeURIComponent(props.session.id)}/messages`,
        { content, role, run_agent: run, notify },
      );
      setDone(answer);
      setContent('');
      props.posted();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} aria-label="Post a message">
      <Field label="Message" id="message-content">
        <textarea
          id="message-content"
          required
          rows={4}
          value={content}
          onInput={(e) => setContent((e.target as HTMLTextAreaElement).value)}
        />
      </Field>
      <Field label="Role" id="message-role">
        <select
          id="message-role"
          value={role}
          onChange={(e) => setRole((e.target as HTMLSelectElement).value)}
        >
          <option value="user">user</option>
          <option value="system">system</option>
          <option value="agent">agent</option>
        </select>
      </Field>
      <div class="checks">
        <label>
          <input
            type="checkbox"
            checked={run}
            disabled={!props.session.profile}
            onChange={(e) => setRun((e.target as HTMLInputElement).checked)}
          />
          Run the agent on it
          {props.session.profile ? ` (profile ${props.session.profile})` : ' (no default profile)'}
        </label>
        <label>
          <input
            type="checkbox"
            checked={notify}
            onChange={(e) => setNotify((e.target as HTMLInputElement).checked)}
          />
          Tell the session's running task
        </label>
      </div>
      <button type="submit" class="primary" disabled={busy}>
        {busy ? 'Posting…' : 'Post message'}
      </button>
      <ErrorBox error={error} />
      {done && (
        <Notice>
          Message #{done.message.id} posted
          {done.task && (
            <>
              ; it started task{' '}
              <a href={href(`/tasks/${done.task.id}`)}>{done.task.id.slice(0, 8)}</a>
            </>
          )}
          .
        </Notice>
      )}
    </form>
  );
}

/** /sessions/:id: the session, its messages and tasks, and (sessions:write) a message form. */
export function SessionPage({ params, query }: PageProps) {
  const id = params.id!;
  const after = query.get('after') ?? '';
  const path = `/sessions/${encodeURIComponent(id)}`;
  const session = useLoad(() => get<{ session: SessionView }>(path), [id]);
  const messages = useLoad(
    () =>
      get<{ messages: MessageView[]; next: string | null }>(`${path}/messages`, {
        after,
        limit: MESSAGES,
      }),
    [id, after],
    LIVE_MS,
  );
  const tasks = useLoad(() => get<TaskList>('/tasks', { session: id, limit: 50 }), [id], LIVE_MS);
  const s = session.data?.session;
  const posted = () => {
    messages.reload();
    tasks.reload();
  };
  return (
    <>
      <PageHeader title={s ? `Session ${s.key}` : 'Session'}>
        <Loading loading={session.loading && !s} />
      </PageHeader>
      <ErrorBox error={session.error} />
      {s && (
        <Section title="Session" id="session-fields">
          <KeyValue
            label="Session fields"
            rows={[
              ['Id', <code key="id">{s.id}</code>],
              ['Key', s.key],
              ['Profile', s.profile],
              ['Dispatch', s.dispatch ? s.dispatch.type : null],
              ['Created', timestamp(s.createdAt)],
              ['Updated', timestamp(s.updatedAt)],
            ]}
          />
          {Object.keys(s.metadata).length > 0 && (
            <details>
              <summary>Metadata</summary>
              <Code>{json(s.metadata)}</Code>
            </details>
          )}
        </Section>
      )}
      <Section title="Messages" id="session-messages">
        <ErrorBox error={messages.error} />
        {messages.data && messages.data.messages.length === 0 && (
          <p class="empty">{after ? 'No later messages.' : 'No messages yet.'}</p>
        )}
        {messages.data && messages.data.messages.length > 0 && (
          <ol class="messages" aria-label="Messages">
            {messages.data.messages.map((m) => (
              <li key={m.id}>
                <Badge value={m.role} /> <span class="live-state">#{m.id}</span>{' '}
                <time class="live-state" dateTime={m.createdAt}>
                  {timestamp(m.createdAt)}
                </time>
                <p class="message-text">{m.content}</p>
              </li>
            ))}
          </ol>
        )}
        <div class="pager">
          {after && <a href={href(`/sessions/${id}`)}>First messages</a>}
          {messages.data?.next && (
            <a href={href(`/sessions/${id}`, { after: messages.data.next })}>Later messages →</a>
          )}
        </div>
      </Section>
      {s && can('sessions:write') && (
        <Section title="Post a message" id="session-post">
          <PostMessage session={s} posted={posted} />
        </Section>
      )}
      <Section title="Tasks" id="session-tasks">
        <ErrorBox error={tasks.error} />
        <TaskTable tasks={tasks.data?.tasks} empty="No tasks in this session." />
        {tasks.data?.next && (
          <p>
            <a href={href('/tasks', { session: id })}>All tasks of this session →</a>
          </p>
        )}
      </Section>
    </>
  );
}
