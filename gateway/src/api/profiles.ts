import type { Policy } from '@switchboard/policy';
import { Router } from 'express';
import { z } from 'zod';
import type { Pool } from '../db/connect.ts';
import { notFound, SwitchboardError } from '../errors.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import {
  listProfileSecrets,
  SECRET_MAX_BYTES,
  setProfileSecret,
  unsetProfileSecret,
} from '../settings/profile-secrets.ts';
import { parseInput } from '../validate.ts';
import { actorOf, requireScope } from './auth.ts';
import { requireOperatorKey } from './integration-key-bounds.ts';

/**
 * A profile's secrets (settings/profile-secrets.ts): names and set/unset with profiles:read,
 * set and unset with profiles:write. No route answers a value. An integration's process key
 * is refused here whatever its scopes: integration code is untrusted, and a profile's model
 * key is the gateway's, not the integration's.
 */

/** A name as the policy writes it; anything else cannot be a declared secret. */
const NAME = /^[A-Z][A-Z0-9_]{0,127}$/;
/** A profile name as the policy writes it (sdk LOCAL_NAME), bounded. */
const PROFILE_NAME = /^[a-z][a-z0-9-]{0,127}$/;

export const SecretBody = z.strictObject({
  // A JSON string of 16 KiB of characters may be up to 4 bytes each: bounded again by bytes.
  value: z
    .string({ error: 'expected the value as a string' })
    .max(SECRET_MAX_BYTES, `expected at most ${SECRET_MAX_BYTES} characters`),
});

export const SecretStatusView = z.object({
  name: z.string(),
  declared: z.boolean(),
  set: z.boolean(),
  updatedAt: z.string().nullable(),
  updatedBy: z.string().nullable(),
});

const refuseIntegrationKey = (apiKey: { integration: string | null } | undefined): void =>
  requireOperatorKey(apiKey, 'profile secrets are for operator keys only');

export function profilesRoutes(deps: {
  sql: Pool;
  registry: IntegrationRegistry;
  masterKey: Buffer;
}): Router {
  const router = Router();
  const declaredOf = (name: string): readonly string[] => {
    const policy: Policy | undefined = deps.registry.currentPolicy();
    if (!policy)
      throw new SwitchboardError(
        'policy_invalid',
        'the policy file is invalid: no profile is defined',
      );
    const profile = Object.hasOwn(policy.profiles, name) ? policy.profiles[name] : undefined;
    if (!profile) {
      const defined = Object.keys(policy.profiles);
      throw notFound(
        `no profile named ${JSON.stringify(name)} in the policy (${defined.length > 0 ? `defined: ${defined.join(', ')}` : 'none is defined'})`,
      );
    }
    return profile.secrets ?? [];
  };
  const secretName = (raw: string): string => {
    if (NAME.test(raw)) return raw;
    throw new SwitchboardError(
      'invalid_request',
      'invalid secret name: expected an uppercase letter, then uppercase letters, digits or _ (at most 128)',
    );
  };

  router.get('/profiles/:name/secrets', requireScope('profiles:read'), async (req, res) => {
    refuseIntegrationKey(req.apiKey);
    const profile = req.params.name as string;
    const secrets = await listProfileSecrets(deps.sql, profile, declaredOf(profile));
    res.json({
      profile,
      secrets: secrets.map((s) => ({ ...s, updatedAt: s.updatedAt?.toISOString() ?? null })),
    });
  });

  router.put(
    '/profiles/:name/secrets/:secret',
    requireScope('profiles:write'),
    async (req, res) => {
      refuseIntegrationKey(req.apiKey);
      const profile = req.params.name as string;
      const name = secretName(req.params.secret as string);
      const declared = declaredOf(profile);
      const { value } = parseInput(SecretBody, req.body, 'secret');
      const { replaced, updatedAt } = await setProfileSecret(deps.sql, {
        profile,
        declared,
        name,
        value,
        masterKey: deps.masterKey,
        ...actorOf(req),
      });
      res.json({ profile, name, set: true, replaced, updatedAt: updatedAt.toISOString() });
    },
  );

  router.delete(
    '/profiles/:name/secrets/:secret',
    requireScope('profiles:write'),
    async (req, res) => {
      refuseIntegrationKey(req.apiKey);
      const profile = req.params.name as string;
      const name = secretName(req.params.secret as string);
      // A profile the policy no longer has may still hold rows: unset works for it too, for
      // any name a profile could have had (the audit row names it).
      if (!PROFILE_NAME.test(profile))
        throw new SwitchboardError(
          'invalid_request',
          'invalid profile name: expected a lowercase letter, then lowercase letters, digits or - (at most 128)',
        );
      const removed = await unsetProfileSecret(deps.sql, { profile, name, ...actorOf(req) });
      res.json({ profile, name, removed });
    },
  );

  return router;
}
