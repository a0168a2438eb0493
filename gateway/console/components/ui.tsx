import type { ComponentChildren, JSX } from 'preact';
import { useState } from 'preact/hooks';
import { describeError } from '../lib/api.ts';

/** The console's building blocks: every page is made of these, so they look and behave alike. */

export function PageHeader(props: { title: string; children?: ComponentChildren }) {
  return (
    <header class="page-header">
      <h1>{props.title}</h1>
      {props.children && <div class="actions">{props.children}</div>}
    </header>
  );
}

export function Section(props: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section class="card" aria-labelledby={props.id}>
      <h2 id={props.id}>{props.title}</h2>
      {props.children}
    </section>
  );
}

export function ErrorBox(props: { error: string | null | undefined }) {
  if (!props.error) return null;
  return (
    <p class="error" role="alert">
      {props.error}
    </p>
  );
}

export function Notice(props: { children: ComponentChildren }) {
  return (
    <p class="notice" role="status">
      {props.children}
    </p>
  );
}

export function Loading(props: { loading: boolean }) {
  return props.loading ? <span class="loading">Loading…</span> : null;
}

const TONES: Record<string, string> = {
  ready: 'ok',
  ok: 'ok',
  complete: 'ok',
  completed: 'ok',
  delivered: 'ok',
  approved: 'ok',
  processed: 'ok',
  active: 'ok',
  allowed: 'ok',
  isolated: 'ok',
  running: 'info',
  starting: 'info',
  pending: 'info',
  queued: 'info',
  claimed: 'info',
  retrying: 'warn',
  degraded: 'warn',
  needs_settings: 'warn',
  waiting: 'warn',
  expired: 'warn',
  advisory: 'warn',
  cancelled: 'muted',
  ended: 'muted',
  revoked: 'muted',
  disabled: 'muted',
  off: 'muted',
  failed: 'bad',
  dead: 'bad',
  refused: 'bad',
  denied: 'bad',
  error: 'bad',
};

/** A state in words with a colour by its tone (the word is always there: colour is extra). */
export function Badge(props: { value: string | null | undefined; title?: string | undefined }) {
  const value = props.value ?? '—';
  return (
    <span class={`badge ${TONES[value] ?? 'muted'}`} title={props.title}>
      {value.replaceAll('_', ' ')}
    </span>
  );
}

export interface Column<T> {
  title: string;
  cell: (row: T) => ComponentChildren;
  /** Hidden on a phone-width screen (secondary columns). */
  wide?: boolean;
}

export function Table<T>(props: {
  rows: T[] | undefined;
  columns: Column<T>[];
  empty: string;
  rowKey: (row: T) => string;
  label: string;
  /** A class for a row to stand out (e.g. a refused connection). */
  rowClass?: (row: T) => string | undefined;
}) {
  if (!props.rows) return null;
  if (props.rows.length === 0) return <p class="empty">{props.empty}</p>;
  return (
    <div class="table-wrap">
      <table aria-label={props.label}>
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th key={c.title} class={c.wide ? 'wide' : undefined} scope="col">
                {c.title}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) => (
            <tr key={props.rowKey(row)} class={props.rowClass?.(row)}>
              {props.columns.map((c) => (
                <td key={c.title} class={c.wide ? 'wide' : undefined}>
                  {c.cell(row)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function KeyValue(props: { rows: Array<[string, ComponentChildren]>; label?: string }) {
  return (
    <dl class="kv" aria-label={props.label}>
      {props.rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v ?? '—'}</dd>
        </div>
      ))}
    </dl>
  );
}

export function Code(props: { children: ComponentChildren }) {
  return <pre class="code">{props.children}</pre>;
}

/**
 * A button running an async write: disabled while it runs, its error shown beside it, an
 * optional confirm() first (for what cannot be undone).
 */
export function ActionButton(props: {
  label: string;
  run: () => Promise<unknown>;
  confirm?: string;
  tone?: 'danger' | 'primary';
  done?: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const onClick = async () => {
    if (props.confirm && !window.confirm(props.confirm)) return;
    setBusy(true);
    setError(null);
    try {
      await props.run();
      props.done?.();
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="action">
      <button type="button" class={props.tone} disabled={busy} onClick={onClick}>
        {busy ? `${props.label}…` : props.label}
      </button>
      {error && (
        <span class="error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}

export function CopyButton(props: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  const onClick = async () => {
    try {
      await navigator.clipboard.writeText(props.text);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      setCopied(false);
    }
  };
  return (
    <button type="button" class="copy" onClick={onClick}>
      {copied ? 'Copied' : (props.label ?? 'Copy')}
    </button>
  );
}

/** A labelled form field: the label is tied to the control for screen readers. */
export function Field(props: {
  label: string;
  id: string;
  children: JSX.Element;
  hint?: ComponentChildren;
}) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint && <small>{props.hint}</small>}
    </div>
  );
}
