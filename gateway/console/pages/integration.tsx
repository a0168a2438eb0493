import { useState } from 'preact/hooks';
import { IntegrationPanels } from '../components/panels.tsx';
import {
  ActionButton,
  Badge,
  CopyButton,
  ErrorBox,
  Field,
  KeyValue,
  Loading,
  Notice,
  PageHeader,
  Section,
  Table,
} from '../components/ui.tsx';
import { describeError, get, post, put } from '../lib/api.ts';
import { ago, timestamp } from '../lib/format.ts';
import { LIVE_MS, useLoad } from '../lib/live.ts';
import { href } from '../lib/router.ts';
import { can } from '../lib/session.ts';
import { EGRESS_WORDS, EgressMode } from './egress-mode.tsx';
import type { IntegrationDetail, IntegrationSummary, SettingView } from './integration-types.ts';
import type { PageProps } from './types.ts';
import './integrations.css';

const STATE_WORDS: Record<string, string> = {
  ready: 'Ready: its tools are offered to agents.',
  starting: 'Starting: the gateway is launching its server.',
  refused: 'Refused: the gateway will not start it until the reasons below are fixed.',
  failed: 'Failed: its server did not start or stopped answering.',
  stopped: 'Stopped.',
};

/** Reasons a setting fixes: the settings form is the way to fix them. */
const SETTING_REASONS = new Set(['setting_missing', 'setting_invalid']);

/** One integration (issue 16): state and why, settings, webhooks, schedules, tools. Live. */
export function IntegrationPage(props: PageProps) {
  const name = props.params.name ?? '';
  const path = `/integrations/${encodeURIComponent(name)}`;
  const item = useLoad(
    () => get<{ integration: IntegrationDetail }>(path).then((a) => a.integration),
    [name],
    LIVE_MS,
  );
  const writable = can('integrations:write');
  const data = item.data;
  const settingReason = data?.reasons.some((r) => SETTING_REASONS.has(r.code)) ?? false;
  return (
    <>
      <PageHeader title={`Integration ${name}`}>
        <Loading loading={item.loading && !data} />
        {data && <Badge value={data.state} />}
        {writable && data && (
          <ActionButton
            label="Reload"
            tone="primary"
            run={() => post<{ integration: IntegrationSummary }>(`${path}/reload`)}
            done={item.reload}
          />
        )}
      </PageHeader>
      <p>
        <a href={href('/integrations')}>All integrations</a>
      </p>
      <ErrorBox error={item.error} />
      {data && (
        <>
          <Section title="State" id="state">
            <p>{STATE_WORDS[data.state] ?? data.state}</p>
            {data.egress && (
              <p>
                Egress: <EgressMode mode={data.egress} /> {EGRESS_WORDS[data.egress]}.
              </p>
            )}
            {data.reasons.length > 0 && (
              <ul class="reasons" aria-label="Reasons">
                {data.reasons.map((r) => (
                  <li key={`${r.code}:${r.message}`}>
                    {r.message} <span class="mono">({r.code})</span>
                  </li>
                ))}
              </ul>
            )}
            {data.lastError && <ErrorBox error={data.lastError} />}
            {settingReason &&
              (writable ? (
                <div class="notice" role="status">
                  To fix it: set the missing or invalid setting in Settings below; saving reloads
                  the integration.{' '}
                  {data.settings
                    .filter((s) => s.required && s.source === null)
                    .map((s) => (
                      <button
                        key={s.key}
                        type="button"
                        class="link"
                        onClick={() => document.getElementById(`setting-${s.key}`)?.focus()}
                      >
                        Set {s.key}
                      </button>
                    ))}
                </div>
              ) : (
                <Notice>
                  To fix it, a key with integrations:write sets the setting (console, CLI or API).
                </Notice>
              ))}
            {data.changed && (
              <Notice>
                {data.pendingTools.length} tool definition(s) changed since they were approved and
                stay hidden from agents until approved: {data.pendingTools.join(', ')}.
              </Notice>
            )}
            <KeyValue
              label="Details"
              rows={[
                ['Description', data.description],
                ['Version', data.version],
                ['Transport', data.transport],
                ['Folder', <span class="mono">{data.dir}</span>],
                ['Tool pinning', data.toolPinning],
              ]}
            />
          </Section>
          <SettingsSection
            name={name}
            path={path}
            settings={data.settings}
            writable={writable}
            changed={item.reload}
          />
          <Section title="Webhooks" id="webhooks">
            {data.webhooks.length > 0 && (
              <p>Configure these URLs at the sender (each request is checked by its scheme).</p>
            )}
            <Table
              label="Webhooks"
              rows={data.webhooks}
              rowKey={(w) => w.name}
              empty="No webhooks."
              columns={[
                { title: 'Name', cell: (w) => w.name },
                {
                  title: 'URL',
                  cell: (w) => (
                    <span class="action">
                      <code class="url">{w.url}</code>
                      <CopyButton text={w.url} label={`Copy ${w.name} URL`} />
                    </span>
                  ),
                },
                {
                  title: 'Signature',
                  cell: (w) =>
                    w.secretSetting ? `${w.scheme}, secret ${w.secretSetting}` : w.scheme,
                },
                { title: 'Mode', cell: (w) => w.mode, wide: true },
              ]}
            />
          </Section>
          <Section title="Schedules" id="schedules">
            <Table
              label="Schedules"
              rows={data.schedules}
              rowKey={(s) => s.name}
              empty="No schedules."
              columns={[
                { title: 'Name', cell: (s) => s.name },
                { title: 'Cron (UTC)', cell: (s) => <code>{s.cron}</code> },
                {
                  title: 'Next fire',
                  cell: (s) =>
                    s.nextFireAt ? (
                      <time dateTime={s.nextFireAt}>
                        {timestamp(s.nextFireAt)} ({ago(s.nextFireAt)})
                      </time>
                    ) : s.armed ? (
                      'never'
                    ) : (
                      'not armed until the integration is ready'
                    ),
                },
                { title: 'Handler', cell: (s) => s.handler, wide: true },
              ]}
            />
          </Section>
          <Section title="Tools" id="tools">
            <Table
              label="Tools"
              rows={data.toolDetails}
              rowKey={(t) => t.name}
              empty={data.state === 'ready' ? 'It lists no tools.' : 'No tools until it is ready.'}
              columns={[
                {
                  title: 'Name',
                  cell: (t) => (
                    <>
                      <span class="mono">{t.name}</span>
                      {t.hidden && (
                        <>
                          {' '}
                          <span class="badge muted">hidden: gateway handler</span>
                        </>
                      )}
                      {data.pendingTools.includes(t.name) && (
                        <>
                          {' '}
                          <span class="badge warn">awaiting approval</span>
                        </>
                      )}
                    </>
                  ),
                },
                { title: 'Description', cell: (t) => t.description ?? '' },
              ]}
            />
          </Section>
          <IntegrationPanels name={name} />
        </>
      )}
    </>
  );
}

function settingStatus(s: SettingView): string {
  if (s.source === null) return s.required ? 'not set (required)' : 'not set';
  return `set (${s.source})`;
}

function SettingsSection(props: {
  name: string;
  path: string;
  settings: SettingView[];
  writable: boolean;
  changed: () => void;
}) {
  return (
    <Section title="Settings" id="settings">
      {props.settings.length === 0 ? (
        <p class="empty">It declares no settings.</p>
      ) : (
        <>
          {props.writable && (
            <p>
              Secrets are write-only: their values are never shown, only whether they are set.
              Saving a value stores it (secrets encrypted) and reloads the integration.
            </p>
          )}
          <ul class="settings-list" aria-label="Settings">
            {props.settings.map((s) => (
              <SettingRow key={s.key} setting={s} {...props} />
            ))}
          </ul>
        </>
      )}
    </Section>
  );
}

function SettingRow(props: {
  setting: SettingView;
  path: string;
  writable: boolean;
  changed: () => void;
}) {
  const s = props.setting;
  const [value, setValue] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const id = `setting-${s.key}`;
  const shown = s.source === null ? null : s.secret || s.value === '******' ? null : s.value;
  const onSubmit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(null);
    try {
      await put(`${props.path}/settings/${encodeURIComponent(s.key)}`, { value });
      setValue('');
      const { integration } = await post<{ integration: IntegrationSummary }>(
        `${props.path}/reload`,
      );
      setSaved(`Saved ${s.key}; reloaded: ${integration.state.replaceAll('_', ' ')}.`);
      props.changed();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <li>
      <div class="setting-head">
        <strong class="mono">{s.key}</strong>
        <span class={`badge ${s.source !== null ? 'ok' : s.required ? 'bad' : 'muted'}`}>
          {settingStatus(s)}
        </span>
        {s.secret && <span class="badge muted">secret</span>}
      </div>
      {s.description && <p class="empty">{s.description}</p>}
      {shown !== null && (
        <p>
          Value: <code>{shown}</code>
        </p>
      )}
      {props.writable && (
        <form class="setting-form" onSubmit={onSubmit}>
          <Field
            id={id}
            label={
              s.secret
                ? `${s.source === null ? 'Set' : 'Replace'} secret ${s.key}`
                : `New value for ${s.key}`
            }
          >
            <input
              id={id}
              type={s.secret ? 'password' : 'text'}
              autoComplete={s.secret ? 'new-password' : 'off'}
              value={value}
              required
              onInput={(e) => setValue((e.target as HTMLInputElement).value)}
            />
          </Field>
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Saving…' : `Save ${s.key}`}
          </button>
        </form>
      )}
      <ErrorBox error={error} />
      {saved && (
        <p class="notice" role="status">
          {saved}
        </p>
      )}
    </li>
  );
}
