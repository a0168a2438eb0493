import { useState } from 'preact/hooks';
import { grantWithin, RESOURCES } from '../../src/keys/scopes.ts';
import {
  ActionButton,
  Badge,
  CopyButton,
  ErrorBox,
  Field,
  Loading,
  Notice,
  PageHeader,
  Section,
  Table,
} from '../components/ui.tsx';
import { del, describeError, get, post } from '../lib/api.ts';
import { ago, timestamp } from '../lib/format.ts';
import { LIVE_MS, useLoad } from '../lib/live.ts';
import { can, scopes, session } from '../lib/session.ts';
import type { PageProps } from './types.ts';
import './keys.css';

/** An operator API key as GET /api/v1/keys lists it (never the key itself). */
export interface ApiKey {
  id: string;
  prefix: string;
  name: string;
  scopes: string[];
  source: string;
  integration: string | null;
  createdBy: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const VERBS = ['read', 'write'] as const;

/**
 * The scope picker of a new key: `*` and each resource's verbs, offering only what the
 * signed-in key holds (grantWithin, the gateway's own rule; it refuses more anyway).
 */
function ScopePicker(props: { value: Set<string>; onChange: (next: Set<string>) => void }) {
  const held = scopes.value;
  const toggle = (grant: string, on: boolean) => {
    const next = new Set(props.value);
    if (on) next.add(grant);
    else next.delete(grant);
    props.onChange(next);
  };
  const all = props.value.has('*');
  const offered = RESOURCES.filter((r) => VERBS.some((v) => grantWithin(`${r}:${v}`, held)));
  return (
    <fieldset class="scope-picker">
      <legend>Scopes</legend>
      {grantWithin('*', held) && (
        <label class="scope-all">
          <input
            type="checkbox"
            checked={all}
            onChange={(e) => toggle('*', e.currentTarget.checked)}
          />{' '}
          <code>*</code> every scope
        </label>
      )}
      <div class="scope-grid">
        {offered.map((resource) => (
          <div class="scope-row" key={resource}>
            <span class="scope-resource">{resource}</span>
            {VERBS.filter((v) => grantWithin(`${resource}:${v}`, held)).map((verb) => {
              const grant = `${resource}:${verb}`;
              return (
                <label key={grant}>
                  <input
                    type="checkbox"
                    name="scope"
                    value={grant}
                    disabled={all}
                    checked={all || props.value.has(grant)}
                    onChange={(e) => toggle(grant, e.currentTarget.checked)}
                  />{' '}
                  {grant}
                </label>
              );
            })}
          </div>
        ))}
      </div>
      <small>
        Only the scopes of the key you signed in with are offered: a key cannot make a wider one.
      </small>
    </fieldset>
  );
}

function CreateKey(props: { created: () => void }) {
  const [name, setName] = useState('');
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [made, setMade] = useState<{ key: string; apiKey: ApiKey } | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const chosen = picked.has('*') ? ['*'] : [...picked];
      const answer = await post<{ key: string; apiKey: ApiKey }>('/keys', {
        name,
        scopes: chosen,
      });
      setMade(answer);
      setName('');
      setPicked(new Set());
      props.created();
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section title="Create a key" id="create-key">
      {made && (
        <div class="secret-once" role="status">
          <p>
            <strong>
              Key {made.apiKey.name} (<code>{made.apiKey.prefix}</code>) was created. This is the
              only time it is shown:
            </strong>{' '}
            the gateway keeps only its hash. Copy it now.
          </p>
          <Field label="New key" id="new-key">
            <input id="new-key" class="secret-value" readOnly value={made.key} />
          </Field>
          <div class="button-row">
            <CopyButton text={made.key} label="Copy key" />
            <button type="button" onClick={() => setMade(null)}>
              Done
            </button>
          </div>
        </div>
      )}
      <form onSubmit={submit}>
        <Field label="Name" id="key-name" hint="Who or what uses it, e.g. ci-replay or alice.">
          <input
            id="key-name"
            required
            maxLength={100}
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </Field>
        <ScopePicker value={picked} onChange={setPicked} />
        <ErrorBox error={error} />
        <button
          type="submit"
          class="primary"
          disabled={busy || name.trim() === '' || picked.size === 0}
        >
          {busy ? 'Creating key…' : 'Create key'}
        </button>
      </form>
    </Section>
  );
}

export function KeysPage(_props: PageProps) {
  const [showRevoked, setShowRevoked] = useState(false);
  const keys = useLoad(
    () => get<{ keys: ApiKey[] }>('/keys', { includeRevoked: showRevoked ? 'true' : undefined }),
    [showRevoked],
    LIVE_MS,
  );
  const writable = can('keys:write');
  return (
    <>
      <PageHeader title="API keys">
        <label class="inline-check">
          <input
            type="checkbox"
            checked={showRevoked}
            onChange={(e) => setShowRevoked(e.currentTarget.checked)}
          />{' '}
          Show revoked keys
        </label>
      </PageHeader>
      {writable ? (
        <CreateKey created={keys.reload} />
      ) : (
        <Notice>This key lacks keys:write: it can list keys but not create or revoke them.</Notice>
      )}
      <Section title="Keys" id="keys-list">
        <Loading loading={keys.loading && !keys.data} />
        <ErrorBox error={keys.error} />
        <Table
          label="API keys"
          rows={keys.data?.keys}
          empty="No keys."
          rowKey={(k) => k.id}
          columns={[
            { title: 'Prefix', cell: (k) => <code>{k.prefix}</code> },
            { title: 'Name', cell: (k) => k.name },
            {
              title: 'Scopes',
              cell: (k) => <span class="scopes">{k.scopes.join(' ')}</span>,
            },
            { title: 'Source', cell: (k) => k.integration ?? k.source, wide: true },
            {
              title: 'Created',
              cell: (k) => <span title={timestamp(k.createdAt)}>{ago(k.createdAt)}</span>,
              wide: true,
            },
            {
              title: 'Last used',
              cell: (k) => <span title={timestamp(k.lastUsedAt)}>{ago(k.lastUsedAt)}</span>,
              wide: true,
            },
            {
              title: 'State',
              cell: (k) =>
                k.revokedAt ? (
                  <span title={timestamp(k.revokedAt)}>
                    <Badge value="revoked" /> {ago(k.revokedAt)}
                  </span>
                ) : (
                  <Badge value="active" />
                ),
            },
            ...(writable
              ? [
                  {
                    title: 'Actions',
                    cell: (k: ApiKey) =>
                      k.revokedAt ? null : (
                        <ActionButton
                          label="Revoke"
                          tone="danger"
                          confirm={`Revoke key ${k.name} (${k.prefix})? Whatever uses it is refused from now on, and its console sessions end.${k.prefix === session.value?.prefix ? ' It is the key you are signed in with: this signs you out.' : ''}${k.source === 'env' ? ' It comes from SWITCHBOARD_ADMIN_KEY: the next start registers it again.' : ''}`}
                          run={() => del(`/keys/${k.id}`)}
                          done={keys.reload}
                        />
                      ),
                  },
                ]
              : []),
          ]}
        />
      </Section>
    </>
  );
}
