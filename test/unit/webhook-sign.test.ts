/**
 * webhooks/sign.ts is the sender's side of webhooks/signatures.ts: what it signs, the verifier
 * accepts, for every scheme; one changed byte, another secret or a stale clock are refused.
 */
import { describe, expect, it } from 'vitest';
import { signWebhook } from '../../gateway/src/webhooks/sign.ts';
import { type SignatureScheme, verifyWebhook } from '../../gateway/src/webhooks/signatures.ts';

const SECRETS: Record<Exclude<SignatureScheme, 'none'>, string> = {
  standard: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  github: 'github-secret',
  slack: 'slack-secret',
};
const body = Buffer.from('{"type":"ping","text":"héllo ✓"}', 'utf8');

describe('signWebhook mirrors verifyWebhook', () => {
  for (const [scheme, secret] of Object.entries(SECRETS) as Array<[SignatureScheme, string]>) {
    it(`${scheme}: accepted as signed; refused with another body, secret or an old clock`, () => {
      const headers = signWebhook({ scheme, secret, body });
      const verified = verifyWebhook({ scheme, secret, body, headers });
      expect(verified.deliveryId.length).toBeGreaterThan(0);
      // Two signings of one body get two delivery ids where the scheme sends one.
      if (scheme !== 'slack') {
        const again = signWebhook({ scheme, secret, body });
        expect(verifyWebhook({ scheme, secret, body, headers: again }).deliveryId).not.toBe(
          verified.deliveryId,
        );
      }
      const other = Buffer.from(body.toString('utf8').replace('ping', 'pong'));
      expect(() => verifyWebhook({ scheme, secret, body: other, headers })).toThrow(
        expect.objectContaining({ code: 'signature_invalid' }),
      );
      // (A standard secret is base64: a changed first character, not an appended one, is another key.)
      const wrong = scheme === 'standard' ? 'whsec_AfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' : `${secret}x`;
      expect(() => verifyWebhook({ scheme, secret: wrong, body, headers })).toThrow(
        expect.objectContaining({ code: 'signature_invalid' }),
      );
      if (scheme !== 'github') {
        const old = signWebhook({ scheme, secret, body, nowS: Date.now() / 1000 - 3600 });
        expect(() => verifyWebhook({ scheme, secret, body, headers: old })).toThrow(
          expect.objectContaining({ code: 'timestamp_stale' }),
        );
      }
    });
  }

  it('none signs nothing; a signed scheme without a secret refuses to sign', () => {
    expect(signWebhook({ scheme: 'none', secret: undefined, body })).toEqual({});
    expect(() => signWebhook({ scheme: 'github', secret: '', body })).toThrow(
      /needs a signing secret/,
    );
  });
});
