/**
 * Signing a webhook body as its sender does: GitHub, Slack or a Standard Webhooks sender, exactly
 * what the gateway verifies (gateway/src/webhooks/signatures.ts). The one signer: the gateway's
 * `switchboard webhook send` (webhooks/sign.ts), authors' tests (@switchboard/sdk/testing) and
 * the project's own tests use it.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { SignatureScheme } from './manifest-shape.ts';

export type SignedScheme = Exclude<SignatureScheme, 'none'>;

export interface SignOptions {
  /** The delivery id: `webhook-id` (standard) or `X-GitHub-Delivery` (github); default a UUID. */
  id?: string;
  /** When it was sent (standard, slack): the gateway accepts ±5 minutes; default now. */
  at?: Date;
  /** `X-GitHub-Event` (github); default `ping`. */
  event?: string;
  /** Sent too, e.g. content-type; the signature headers win on a clash. */
  headers?: Record<string, string>;
}

/** Standard Webhooks secrets are base64, optionally `whsec_`-prefixed (as the spec's libraries). */
const STANDARD_PREFIX = 'whsec_';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function standardKey(secret: string): Buffer {
  const encoded = secret.startsWith(STANDARD_PREFIX)
    ? secret.slice(STANDARD_PREFIX.length)
    : secret;
  if (encoded === '' || !BASE64.test(encoded)) {
    throw new Error(
      'signWebhook: a Standard Webhooks secret is base64, optionally prefixed whsec_ (e.g. whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw)',
    );
  }
  return Buffer.from(encoded, 'base64');
}

const hmac = (key: string | Buffer, ...parts: Array<string | Buffer>) => {
  const mac = createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return mac;
};

/**
 * The request headers a sender of `scheme` signs `body` with (lowercased names, with
 * content-type application/json unless `opts.headers` says otherwise). POST `body`'s exact
 * bytes with them to /hooks/<integration>/<endpoint>.
 *
 *   const headers = signWebhook('standard', 'whsec_…', body, { id: 'msg_1' });
 */
export function signWebhook(
  scheme: SignedScheme,
  secret: string,
  body: string | Buffer,
  opts: SignOptions = {},
): Record<string, string> {
  if (!secret)
    throw new Error('signWebhook: an empty secret (the gateway refuses unsigned requests)');
  const base = { 'content-type': 'application/json', ...lowercasedHeaders(opts.headers ?? {}) };
  const seconds = String(Math.floor((opts.at ?? new Date()).getTime() / 1000));
  switch (scheme) {
    case 'standard': {
      const id = opts.id ?? `msg_${randomUUID()}`;
      // The standardwebhooks package signs the body as text: `${id}.${seconds}.${body}`.
      const text = typeof body === 'string' ? body : body.toString();
      const signature = hmac(standardKey(secret), `${id}.${seconds}.${text}`).digest('base64');
      return {
        ...base,
        'webhook-id': id,
        'webhook-timestamp': seconds,
        'webhook-signature': `v1,${signature}`,
      };
    }
    case 'github':
      return {
        ...base,
        'x-github-event': opts.event ?? 'ping',
        'x-github-delivery': opts.id ?? randomUUID(),
        'x-hub-signature-256': `sha256=${hmac(secret, body).digest('hex')}`,
      };
    case 'slack':
      return {
        ...base,
        'x-slack-request-timestamp': seconds,
        'x-slack-signature': `v0=${hmac(secret, `v0:${seconds}:`, body).digest('hex')}`,
      };
    default:
      throw new Error(
        `signWebhook: unknown scheme ${JSON.stringify(scheme)}, expected standard, github or slack`,
      );
  }
}

export function lowercasedHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}
