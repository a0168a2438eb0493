import { useState } from 'preact/hooks';
import { ErrorBox, Field } from '../components/ui.tsx';
import { describeError } from '../lib/api.ts';
import { signedOutReason, signIn } from '../lib/session.ts';

/**
 * Sign in with an operator API key. The key goes to the gateway once, in a POST body; the page
 * keeps nothing (the session is an HttpOnly cookie), and the field is cleared on success.
 */
export function SignInPage() {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const onSubmit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(key);
      setKey('');
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="sign-in">
      <form class="card" onSubmit={onSubmit}>
        <h1>Switchboard console</h1>
        {signedOutReason.value && <p class="notice">{signedOutReason.value}</p>}
        <Field
          label="Operator API key"
          id="api-key"
          hint={
            <>
              Create one with <code>npx switchboard keys create --name me --scopes '*'</code>; the
              console shows only what its scopes allow.
            </>
          }
        >
          <input
            id="api-key"
            name="key"
            type="password"
            autocomplete="off"
            required
            value={key}
            onInput={(e) => setKey(e.currentTarget.value)}
          />
        </Field>
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy || key.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
