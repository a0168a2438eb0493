import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** Request headers as GitHub, Slack and Standard Webhooks senders sign them (tests, bench). */

export function githubHeaders(secret: string, body: string, deliveryId: string, event = 'ping') {
  return {
    'content-type': 'application/json',
    'x-github-event': event,
    'x-github-delivery': deliveryId,
    'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
  };
}

export function slackHeaders(
  secret: string,
  body: string,
  timestampS = Math.floor(Date.now() / 1000),
) {
  const mac = createHmac('sha256', secret).update(`v0:${timestampS}:${body}`).digest('hex');
  return {
    'content-type': 'application/json',
    'x-slack-request-timestamp': String(timestampS),
    'x-slack-signature': `v0=${mac}`,
  };
}

export function standardHeaders(secret: string, body: string, id: string, at = new Date()) {
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  };
}
