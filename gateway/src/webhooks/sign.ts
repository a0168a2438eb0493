import { signWebhook as signSent } from '@switchboard/sdk';
import type { SignatureScheme } from './signatures.ts';

/**
 * The sender's side of signatures.ts: the headers a sender of `scheme` puts on `body`, so that
 * verifyWebhook accepts it. Used by `switchboard webhook send` (through the API's sign route,
 * api/webhook-sign.ts), never by the ingest path. Each branch mirrors its verifier:
 *
 * - standard: webhook-id `msg_<uuid>`, webhook-timestamp (now), webhook-signature `v1,<base64>`
 *   (HMAC-SHA256 of `<id>.<timestamp>.<body>` with the secret's base64 key, as the
 *   `standardwebhooks` package the verifier uses);
 * - github: X-GitHub-Delivery `<uuid>` (required by the verifier), X-Hub-Signature-256
 *   `sha256=<hex HMAC-SHA256(body)>`;
 * - slack: X-Slack-Request-Timestamp (now), X-Slack-Signature `v0=<hex HMAC("v0:<ts>:<body>")>`;
 * - none: nothing.
 *
 * The event name is not signed by any scheme, so it is the caller's (webhookEventHeaders).
 */

export interface SignInput {
  scheme: SignatureScheme;
  /** Required for every scheme but none. */
  secret: string | undefined;
  body: Buffer;
  /** Seconds since the epoch; tests move it. */
  nowS?: number;
}

export function signWebhook(input: SignInput): Record<string, string> {
  const nowS = Math.floor(input.nowS ?? Date.now() / 1000);
  if (input.scheme === 'none') return {};
  const secret = input.secret;
  if (secret === undefined || secret === '') {
    throw new Error(`scheme ${input.scheme} needs a signing secret`);
  }
  // The sdk's signer is the one owner (sdk/src/webhook-signing.ts); only the signature headers
  // are this function's: the caller sets the event (webhookEventHeaders) and the content type.
  const {
    'content-type': _type,
    'x-github-event': _event,
    ...signature
  } = signSent(input.scheme, secret, input.body, { at: new Date(nowS * 1000) });
  return signature;
}

/**
 * Where each scheme's senders name the event, and the name a test send uses by default:
 * GitHub in the X-GitHub-Event header (`ping`, what GitHub sends when a hook is created).
 * Standard Webhooks and Slack carry the event inside the signed body (`type`), so they get no
 * header: `switchboard webhook send` puts it in its default body instead (cli/webhook.ts).
 */
export const DEFAULT_EVENT: Record<SignatureScheme, string> = {
  github: 'ping',
  standard: 'switchboard.test',
  slack: 'event_callback',
  none: 'switchboard.test',
};

export function webhookEventHeaders(
  scheme: SignatureScheme,
  event: string,
): Record<string, string> {
  return scheme === 'github' ? { 'x-github-event': event } : {};
}
