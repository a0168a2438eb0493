import { createHash } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import { appendAudit } from '../audit/store.ts';
import type { Pool } from '../db/connect.ts';
import { notFound, SwitchboardError } from '../errors.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import { parseInput } from '../validate.ts';
import { signWebhook } from '../webhooks/sign.ts';
import { actorOf, requireScope } from './auth.ts';

/**
 * POST /api/v1/integrations/:name/webhooks/:endpoint/sign: the signature headers a sender of
 * that endpoint's scheme would put on `body`, computed with the very secret the gateway's
 * /hooks route verifies with (the registry's resolved settings: database, the gateway's own
 * environment, the policy's development values, the default). `switchboard webhook send` uses
 * it: the secret never leaves the gateway, and the CLI needs no database (the embedded one is
 * held by the running gateway) and no master key.
 *
 * Whoever may sign can have any body accepted as a delivery, so the route needs
 * integrations:write (which can already set the secret itself), refuses an integration's own
 * process key (like approve-tools), and every signing is audited with the body's hash and size.
 */

/**
 * The body as text (webhook bodies are JSON, hence UTF-8): at most 1,000,000 characters, so the
 * request stays under the API's 1 MiB JSON limit (api/router.ts API_BODY_LIMIT) with room for
 * escapes. A larger test body is a case for the endpoint's own sender.
 */
export const MAX_SIGN_BODY_CHARS = 1_000_000;

export const SignWebhookBody = z.strictObject({
  body: z
    .string({ error: 'expected the request body to sign, as a string' })
    .max(MAX_SIGN_BODY_CHARS, `expected at most ${MAX_SIGN_BODY_CHARS} characters`),
});

export const SignWebhookAnswer = z.object({
  integration: z.string(),
  endpoint: z.string(),
  scheme: z.enum(['standard', 'github', 'slack', 'none']),
  mode: z.enum(['async', 'sync']),
  headers: z.record(z.string(), z.string()),
});

export function webhookSignRoutes(deps: { sql: Pool; registry: IntegrationRegistry }): Router {
  const router = Router();
  router.post(
    '/integrations/:name/webhooks/:endpoint/sign',
    requireScope('integrations:write'),
    async (req, res) => {
      if (req.apiKey?.integration) {
        throw new SwitchboardError(
          'forbidden',
          "an integration's process key cannot sign webhook requests",
        );
      }
      const name = req.params.name as string;
      const endpoint = req.params.endpoint as string;
      const item = deps.registry.get(name);
      if (!item) throw notFound(`no integration named ${JSON.stringify(name)}`);
      const webhooks = item.manifest?.webhooks ?? [];
      const webhook = webhooks.find((w) => w.name === endpoint);
      if (!webhook) {
        const known = webhooks.map((w) => w.name).join(', ') || 'none';
        throw new SwitchboardError(
          'webhook_unknown',
          `integration ${name} has no webhook ${JSON.stringify(endpoint)} (its webhooks: ${known})`,
        );
      }
      const { body } = parseInput(SignWebhookBody, req.body, 'sign request');
      const scheme = webhook.verify.scheme;
      const key = webhook.verify.secret;
      const secret = key ? item.settings.find((s) => s.key === key)?.value : undefined;
      if (scheme !== 'none' && (secret === undefined || secret === '')) {
        throw new SwitchboardError(
          'secret_missing',
          `webhook ${name}/${endpoint} verifies with scheme ${scheme} and its secret setting ${key ?? '(none declared)'} has no value: set it with "switchboard integrations settings set ${name} ${key ?? 'KEY'} --stdin", then "switchboard integrations reload ${name}"`,
        );
      }
      const bytes = Buffer.from(body, 'utf8');
      const headers = signWebhook({ scheme, secret, body: bytes });
      await appendAudit(deps.sql, {
        ...actorOf(req),
        action: 'integrations.webhook-sign',
        target: `${name}/${endpoint}`,
        details: {
          scheme,
          bytes: bytes.length,
          sha256: createHash('sha256').update(bytes).digest('hex'),
        },
      });
      res.json({ integration: name, endpoint, scheme, mode: webhook.mode, headers });
    },
  );
  return router;
}
