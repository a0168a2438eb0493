import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { SECRET_WEBHOOK_HEADERS } from '@switchboard/sdk';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { type ErrorCode, SwitchboardError } from '../errors.ts';

/**
 * Signature schemes of manifest webhooks, checked on the raw request bytes before anything
 * parses them (REFERENCES "webhook signature schemes"). Every comparison is constant time; a
 * scheme that needs a secret and has none refuses the request (an empty HMAC key is forgeable).
 *
 * - standard: Standard Webhooks (webhook-id/-timestamp/-signature, `v1,<base64>`), via the
 *   `standardwebhooks` package; the timestamp must be within ±5 minutes.
 * - github: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(body)>`; no timestamp in the scheme,
 *   and `X-GitHub-Delivery` (required) is not signed: a captured request resent under a new id
 *   is caught by a hash of the body, unique per integration like the delivery id.
 * - slack: `X-Slack-Signature: v0=<hex HMAC-SHA256("v0:<ts>:<body>")>` and
 *   `X-Slack-Request-Timestamp` within ±5 minutes (Slack's own advice); no delivery id is sent,
 *   so the body's hash is the id (a replay within the 5 minutes, and a Slack retry, resend it).
 * - none: nothing to check; the policy must grant `webhooks.unsigned` (policy/decide.ts).
 */

export type SignatureScheme = 'standard' | 'github' | 'slack' | 'none';

/** ±5 minutes, as Standard Webhooks and Slack both recommend. */
export const TIMESTAMP_TOLERANCE_S = 5 * 60;

const refused = (code: ErrorCode, message: string) => new SwitchboardError(code, message);

export interface VerifyInput {
  scheme: SignatureScheme;
  /** The resolved signing secret; undefined or '' refuses the request for signed schemes. */
  secret: string | undefined;
  body: Buffer;
  /** Lowercased names (node's req.headers). */
  headers: Record<string, string | string[] | undefined>;
  /** Seconds since the epoch; tests move it. */
  nowS?: number;
}

const one = (headers: VerifyInput['headers'], name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

const sameBytes = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  // timingSafeEqual needs equal lengths; the length of a hex HMAC is public anyway.
  return x.length === y.length && timingSafeEqual(x, y);
};

const hmacHex = (secret: string, ...parts: Array<string | Buffer>): string => {
  const mac = createHmac('sha256', secret);
  for (const part of parts) mac.update(part);
  return mac.digest('hex');
};

function checkTimestamp(raw: string | undefined, header: string, nowS: number): void {
  if (raw === undefined || !/^\d{1,12}$/.test(raw)) {
    throw refused('signature_missing', `missing or malformed ${header} header`);
  }
  const skew = nowS - Number(raw);
  if (Math.abs(skew) > TIMESTAMP_TOLERANCE_S) {
    throw refused(
      'timestamp_stale',
      `${header} is ${Math.round(Math.abs(skew))} s ${skew > 0 ? 'old' : 'in the future'} (at most ${TIMESTAMP_TOLERANCE_S} s allowed)`,
    );
  }
}

function verifyStandard(input: VerifyInput, secret: string, nowS: number): string {
  const id = one(input.headers, 'webhook-id');
  const signature = one(input.headers, 'webhook-signature');
  if (!id || !signature) {
    throw refused('signature_missing', 'missing webhook-id or webhook-signature header');
  }
  // The package checks the timestamp against its own clock; check ours first for a clear code.
  checkTimestamp(one(input.headers, 'webhook-timestamp'), 'webhook-timestamp', nowS);
  try {
    new Webhook(secret).verify(
      input.body,
      {
        'webhook-id': id,
        'webhook-signature': signature,
        'webhook-timestamp': one(input.headers, 'webhook-timestamp') ?? '',
      },
      { jsonParse: false },
    );
  } catch (error) {
    if (error instanceof WebhookVerificationError) {
      throw refused('signature_invalid', 'webhook-signature does not match the body');
    }
    throw error;
  }
  return id;
}

function verifyGithub(input: VerifyInput, secret: string): string {
  const signature = one(input.headers, 'x-hub-signature-256');
  if (!signature?.startsWith('sha256=')) {
    throw refused('signature_missing', 'missing X-Hub-Signature-256 header (sha256=…)');
  }
  if (!sameBytes(signature.slice(7), hmacHex(secret, input.body))) {
    throw refused('signature_invalid', 'X-Hub-Signature-256 does not match the body');
  }
  const id = one(input.headers, 'x-github-delivery');
  // GitHub always sends one; a request without it is not GitHub's, and nothing would dedupe it.
  if (!id) {
    throw new SwitchboardError('delivery_id_missing', 'missing X-GitHub-Delivery header');
  }
  return id;
}

function verifySlack(input: VerifyInput, secret: string, nowS: number): void {
  const signature = one(input.headers, 'x-slack-signature');
  const timestamp = one(input.headers, 'x-slack-request-timestamp');
  if (!signature?.startsWith('v0=')) {
    throw refused('signature_missing', 'missing X-Slack-Signature header (v0=…)');
  }
  checkTimestamp(timestamp, 'X-Slack-Request-Timestamp', nowS);
  const expected = hmacHex(secret, `v0:${timestamp}:`, input.body);
  if (!sameBytes(signature.slice(3), expected)) {
    throw refused('signature_invalid', 'X-Slack-Signature does not match the body');
  }
}

const sha256 = (body: Buffer): Buffer => createHash('sha256').update(body).digest();

export interface VerifiedDelivery {
  /** Unique per integration: a second request with it is a duplicate. */
  deliveryId: string;
  /** Also unique per integration when set (github: its delivery id is not signed). */
  bodySha256: Buffer | null;
}

/**
 * Checks the request and says what to deduplicate it on. Signed schemes use only what the
 * signature covers or what the scheme requires: webhook-id (signed), X-GitHub-Delivery plus a
 * hash of the (signed) body, a hash of the (signed) Slack body. A sender's Idempotency-Key is
 * honoured only for `none`: on a signed scheme anyone replaying a captured request could pick
 * a new one each time and have the one signed body stored again and again.
 */
export function verifyWebhook(input: VerifyInput): VerifiedDelivery {
  const nowS = input.nowS ?? Date.now() / 1000;
  let id: string;
  let bodySha256: Buffer | null = null;
  if (input.scheme === 'none') {
    id = one(input.headers, 'idempotency-key') ?? randomUUID();
  } else {
    if (!input.secret) {
      throw new SwitchboardError(
        'secret_missing',
        'this webhook has no signing secret configured, so it refuses every request',
      );
    }
    if (input.scheme === 'standard') id = verifyStandard(input, input.secret, nowS);
    else if (input.scheme === 'github') {
      id = verifyGithub(input, input.secret);
      bodySha256 = sha256(input.body);
    } else {
      verifySlack(input, input.secret, nowS);
      id = `sha256:${sha256(input.body).toString('hex')}`;
    }
  }
  if (id.length > 200) throw refused('delivery_id_invalid', 'delivery id over 200 characters');
  return { deliveryId: id, bodySha256 };
}

/** Header names never stored or shown to the handler: they authenticate, or they are secrets. */
export const SECRET_HEADERS = SECRET_WEBHOOK_HEADERS;

/** Lowercased names, repeated headers joined with ", ", secrets dropped (sdk webhookInputSchema). */
export function storableHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || SECRET_HEADERS.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
