import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/**
 * Standard Webhooks signatures for the gateway's own outbound POSTs (built-in `webhook`
 * dispatches, event subscriptions): `webhook-id`, `webhook-timestamp` (Unix seconds) and
 * `webhook-signature` (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`), so a receiver verifies
 * with any Standard Webhooks library. The id is the delivery's: a retry of the same delivery
 * keeps it, which is what lets a receiver deduplicate.
 */

/** `whsec_` + base64 of `bytes` random bytes: the spec asks for 24 to 64; 32 by default. */
export function generateWebhookSecret(bytes = 32): string {
  if (bytes < 24 || bytes > 64) throw new RangeError('a webhook secret has 24 to 64 bytes');
  return `whsec_${randomBytes(bytes).toString('base64')}`;
}

export const WEBHOOK_SECRET_EXPECTED =
  'expected a Standard Webhooks secret: whsec_ followed by base64 of 24 to 64 random bytes (e.g. whsec_ and the output of openssl rand -base64 32)';

/** Why the signer cannot use `secret` (it decodes the base64 after `whsec_`), or undefined. */
export function webhookSecretProblem(secret: string): string | undefined {
  try {
    new Webhook(secret);
    return undefined;
  } catch {
    return WEBHOOK_SECRET_EXPECTED;
  }
}

export function signedHeaders(
  secret: string,
  messageId: string,
  body: string,
  timestamp: Date = new Date(),
): Record<string, string> {
  // Whole seconds, as the package floors them when it signs: the header must say the same.
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(messageId, timestamp, body),
  };
}
