import { signWebhook } from '@switchboard/sdk';

/**
 * Request headers as GitHub, Slack and Standard Webhooks senders sign them (tests, bench): the
 * sdk's signer (sdk/src/webhook-signing.ts), the one the gateway's `webhook send` uses too.
 */

export function githubHeaders(secret: string, body: string, deliveryId: string, event = 'ping') {
  return signWebhook('github', secret, body, { id: deliveryId, event });
}

export function slackHeaders(
  secret: string,
  body: string,
  timestampS = Math.floor(Date.now() / 1000),
) {
  return signWebhook('slack', secret, body, { at: new Date(timestampS * 1000) });
}

export function standardHeaders(secret: string, body: string, id: string, at = new Date()) {
  return signWebhook('standard', secret, body, { id, at });
}
