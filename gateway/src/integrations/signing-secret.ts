import type { SignatureScheme } from '@switchboard/sdk';
import { Webhook } from 'standardwebhooks';

/** The Standard Webhooks secret prefix (the rest is base64). */
const STANDARD_PREFIX = 'whsec_';

/**
 * What is wrong with a signing secret for `scheme` (`found …, expected …`, never the value), or
 * undefined when verification can use it. Checked when the integration is judged, so that a
 * secret every delivery would fail on (the standardwebhooks package throws on a key that is not
 * base64: HTTP 500) refuses the integration with `setting_invalid` instead.
 */
export function signingSecretProblem(scheme: SignatureScheme, secret: string): string | undefined {
  if (scheme === 'none') return undefined;
  if (secret.trim() === '') return 'found only whitespace, expected a signing secret';
  if (scheme !== 'standard') return undefined;
  const expected =
    'expected a Standard Webhooks secret: whsec_ followed by base64, e.g. whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw (or the base64 alone)';
  if (secret === STANDARD_PREFIX) return `found whsec_ with nothing after it, ${expected}`;
  try {
    // The very constructor verification uses: what it accepts, deliveries can be checked with.
    new Webhook(secret);
    return undefined;
  } catch {
    return `found a value that is not base64, ${expected}`;
  }
}
