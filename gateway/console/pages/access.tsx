import { useState } from 'preact/hooks';
import { isScopePattern } from '../../src/tokens/scope.ts';
import {
  ActionButton,
  CopyButton,
  ErrorBox,
  Field,
  Loading,
  Notice,
  PageHeader,
  Section,
  Table,
} from '../components/ui.tsx';
import { describeError, get, post } from '../lib/api.ts';
import { ago, timestamp } from '../lib/format.ts';
import { LIVE_MS, useLoad } from '../lib/live.ts';
import { href } from '../lib/router.ts';
import { can } from '../lib/session.ts';
import { ConfigPanel } from './access-config.tsx';
import type { PageProps } from './types.ts';
import './keys.css';
import './access.css';

/**
 * Access: grant an external task (an agent the operator runs, with per-task tokens), copy its
 * config for an agent, and end it. The API owns all of it: POST /tasks {external: true} mints
 * the tokens (tasks/external.ts), POST /tasks/:id/config renders an agent's file
 * (api/task-config.ts), POST /tasks/:id/cancel ends the task and revokes its tokens.
 */

interface IntegrationSummary {
  name: string;
  state: string;
  tools: string[];
}

interface TaskRow {
  id: string;
  external: boolean;
  status: string;
  prompt: string;
  scope: string[];
  createdAt: string;
  startedAt: string | null;
  timeoutMs: number | null;
}

interface Granted {
  task: { id: string; scope: string[] };
  expiresAt: string;
  mcp: { url: string; token: string };
  integrations: Array<{ name: string; url: string; token: string; scope: string[] }>;
}

function ScopePicker(props: {
  integrations: IntegrationSummary[] | undefined;
  value: Set<string>;
  onChange: (next: Set<string>) => void;
}) {
  const toggle = (pattern: string, on: boolean) => {
    const next = new Set(props.value);
    if (on) next.add(pattern);
    else next.delete(pattern);
    props.onChange(next);
  };
  const everything = props.value.has('*:*');
  return (
    <fieldset class="scope-picker">
      <legend>Scope: the tools the task's tokens may call</legend>
      <label class="scope-all">
        <input
          type="checkbox"
          checked={everything}
          onChange={(e) => toggle('*:*', e.currentTarget.checked)}
        />{' '}
        <code>*:*</code> every tool of every integration
      </label>
      {props.integrations === undefined ? (
        <small>The integrations are not listed (this key lacks integrations:read).</small>
      ) : (
        <ul class="grant-integrations">
          {props.integrations.map((integration) => {
            const all = everything || props.value.has(`${integration.name}:*`);
            return (
              <li key={integration.name}>
                <label>
                  <input
                    type="checkbox"
                    disabled={everything}
                    checked={all}
                    onChange={(e) => toggle(`${integration.name}:*`, e.currentTarget.checked)}
                  />{' '}
                  <code>{integration.name}:*</code> every tool of {integration.name}
                  {integration.state !== 'ready' && (
                    <span class="access-note"> ({integration.state.replaceAll('_', ' ')})</span>
                  )}
                </label>
                {integration.tools.length > 0 && (
                  <details>
                    <summary>
                      {integration.tools.length} tool{integration.tools.length === 1 ? '' : 's'} of{' '}
                      {integration.name}
                    </summary>
                    <div class="grant-tools">
                      {integration.tools.map((tool) => {
                        const pattern = `${integration.name}:${tool}`;
                        return (
                          <label key={pattern}>
                            <input
                              type="checkbox"
                              disabled={all}
                              checked={all || props.value.has(pattern)}
                              onChange={(e) => toggle(pattern, e.currentTarget.checked)}
                            />{' '}
                            <code>{pattern}</code>
                          </label>
                        );
                      })}
                    </div>
                  </details>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </fieldset>
  );
}

function GrantForm(props: {
  integrations: IntegrationSummary[] | undefined;
  granted: (g: Granted) => void;
}) {
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [more, setMore] = useState('');
  const [ttl, setTtl] = useState('');
  const [prompt, setPrompt] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const typed = more.split(/[\s,]+/).filter((p) => p !== '');
  const badTyped = typed.filter((p) => !isScopePattern(p));
  const scope = picked.has('*:*')
    ? ['*:*']
    : [...new Set([...picked, ...typed])].filter((p) => {
        // A tool pattern under a whole-integration pattern adds nothing.
        const [name] = p.split(':');
        return p.endsWith(':*') || !picked.has(`${name}:*`);
      });
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer = await post<Granted>('/tasks', {
        external: true,
        scope,
        ...(ttl.trim() && { ttl: ttl.trim() }),
        ...(prompt.trim() && { prompt }),
      });
      setPicked(new Set());
      setMore('');
      setPrompt('');
      props.granted(answer);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section title="Grant an external task" id="grant">
      <p class="access-note">
        For an agent you run yourself (Claude Code, Codex, Cursor, goose…): the gateway makes a
        running task and tokens for its scope. You end it here when the work is done.
      </p>
      <form onSubmit={submit}>
        <ScopePicker integrations={props.integrations} value={picked} onChange={setPicked} />
        <Field
          label="More scope patterns"
          id="grant-more"
          hint="Space-separated integration:tool patterns, either side may be * (github:get_pr, notes:*)."
        >
          <input id="grant-more" value={more} onInput={(e) => setMore(e.currentTarget.value)} />
        </Field>
        {badTyped.length > 0 && (
          <p class="error" role="alert">
            Not a scope pattern: {badTyped.join(' ')}
          </p>
        )}
        <div class="grant-row">
          <Field
            label="Time to live"
            id="grant-ttl"
            hint="e.g. 30m or 2h; the policy's default if empty."
          >
            <input
              id="grant-ttl"
              value={ttl}
              placeholder="1h"
              onInput={(e) => setTtl(e.currentTarget.value)}
            />
          </Field>
          <Field label="What the task is for (optional)" id="grant-prompt">
            <textarea
              id="grant-prompt"
              maxLength={100_000}
              value={prompt}
              onInput={(e) => setPrompt(e.currentTarget.value)}
            />
          </Field>
        </div>
        <p>
          Scope: <code>{scope.length ? scope.join(' ') : '(none chosen)'}</code>
        </p>
        <ErrorBox error={error} />
        <button
          type="submit"
          class="primary"
          disabled={busy || scope.length === 0 || badTyped.length > 0}
        >
          {busy ? 'Granting…' : 'Grant task'}
        </button>
      </form>
    </Section>
  );
}

function GrantedCard(props: { granted: Granted; close: () => void }) {
  const g = props.granted;
  const endpoints = [
    { name: '/mcp (every integration)', url: g.mcp.url, token: g.mcp.token, id: 'mcp' },
    ...g.integrations.map((i) => ({ name: i.name, url: i.url, token: i.token, id: i.name })),
  ];
  return (
    <Section title={`Task granted: ${g.task.id}`} id="granted">
      <div class="secret-once" role="status">
        <strong>These tokens are shown only now, in the answer to the grant:</strong> the gateway
        keeps only their ids. Copy them before leaving this page. They expire{' '}
        {timestamp(g.expiresAt)} or when the task ends.
      </div>
      {endpoints.map((e) => (
        <div class="token-row" key={e.id}>
          <Field label={`Token for ${e.name}`} id={`token-${e.id}`} hint={<code>{e.url}</code>}>
            <input id={`token-${e.id}`} class="secret-value" readOnly value={e.token} />
          </Field>
          <CopyButton text={e.token} label={`Copy token for ${e.name}`} />
        </div>
      ))}
      <h3>Agent config</h3>
      <ConfigPanel taskId={g.task.id} />
      <div class="button-row">
        <button type="button" onClick={props.close}>
          Done: hide the tokens
        </button>
      </div>
    </Section>
  );
}

function expiresAt(t: TaskRow): string | null {
  if (!t.startedAt || t.timeoutMs === null) return null;
  return new Date(new Date(t.startedAt).getTime() + t.timeoutMs).toISOString();
}

export function AccessPage(_props: PageProps) {
  const writable = can('tasks:write');
  const integrations = useLoad(
    () =>
      can('integrations:read')
        ? get<{ integrations: IntegrationSummary[] }>('/integrations').then((a) => a.integrations)
        : Promise.resolve(undefined),
    [],
  );
  const tasks = useLoad(
    () =>
      get<{ tasks: TaskRow[] }>('/tasks', { status: 'running', external: true, limit: 500 }).then(
        (a) => a.tasks,
      ),
    [],
    LIVE_MS,
  );
  const [granted, setGranted] = useState<Granted | null>(null);
  const [configFor, setConfigFor] = useState<string | null>(null);
  return (
    <>
      <PageHeader title="Access" />
      {granted && <GrantedCard granted={granted} close={() => setGranted(null)} />}
      {writable ? (
        <GrantForm
          integrations={integrations.data}
          granted={(g) => {
            setGranted(g);
            tasks.reload();
            window.scrollTo(0, 0);
          }}
        />
      ) : (
        <Notice>
          This key lacks tasks:write: it can list external tasks but not grant or end them.
        </Notice>
      )}
      <Section title="Active external tasks" id="external-tasks">
        <Loading loading={tasks.loading && !tasks.data} />
        <ErrorBox error={tasks.error ?? integrations.error} />
        <Table
          label="Active external tasks"
          rows={tasks.data}
          empty="No external task is running."
          rowKey={(t) => t.id}
          columns={[
            {
              title: 'Task',
              cell: (t) => (
                <a href={href(`/tasks/${t.id}`)}>
                  <code>{t.id.slice(0, 8)}</code>
                </a>
              ),
            },
            { title: 'Scope', cell: (t) => <code class="scopes">{t.scope.join(' ')}</code> },
            { title: 'For', cell: (t) => t.prompt || '—', wide: true },
            {
              title: 'Granted',
              cell: (t) => <span title={timestamp(t.createdAt)}>{ago(t.createdAt)}</span>,
              wide: true,
            },
            {
              title: 'Expires',
              cell: (t) => <span title={timestamp(expiresAt(t))}>{ago(expiresAt(t))}</span>,
              wide: true,
            },
            ...(writable
              ? [
                  {
                    title: 'Actions',
                    cell: (t: TaskRow) => (
                      <span class="button-row">
                        <button
                          type="button"
                          aria-expanded={configFor === t.id}
                          onClick={() => setConfigFor(configFor === t.id ? null : t.id)}
                        >
                          Config
                        </button>
                        <ActionButton
                          label="End"
                          tone="danger"
                          confirm={`End task ${t.id}? Its tokens stop working at once.`}
                          run={() =>
                            post(`/tasks/${t.id}/cancel`, { reason: 'ended in the console' })
                          }
                          done={() => {
                            if (configFor === t.id) setConfigFor(null);
                            if (granted?.task.id === t.id) setGranted(null);
                            tasks.reload();
                          }}
                        />
                      </span>
                    ),
                  },
                ]
              : []),
          ]}
        />
        {configFor && tasks.data?.some((t) => t.id === configFor) && (
          <div class="card">
            <h3>
              Agent config for task <code>{configFor}</code>
            </h3>
            <ConfigPanel taskId={configFor} />
          </div>
        )}
      </Section>
    </>
  );
}
