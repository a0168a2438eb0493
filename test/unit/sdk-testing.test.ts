/**
 * Issue 18: @switchboard/sdk/testing. signWebhook's headers are accepted by the gateway's own
 * verifier (gateway/src/webhooks/signatures.ts) for each scheme, and refused once the body,
 * secret or time is wrong; webhookInput is what the gateway passes a handler; callHandler
 * reads structuredContent or JSON text, and reports errors and contract breaks.
 */
import { SECRET_WEBHOOK_HEADERS } from '@switchboard/sdk';
import { callHandler, signWebhook, webhookInput } from '@switchboard/sdk/testing';
import { describe, expect, it } from 'vitest';
import type { SwitchboardError } from '../../gateway/src/errors.ts';
import {
  type SignatureScheme,
  storableHeaders,
  verifyWebhook,
} from '../../gateway/src/webhooks/signatures.ts';
import { githubHeaders, slackHeaders, standardHeaders } from '../helpers/webhooks.ts';

const SECRETS = {
  standard: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  github: 'test-github-secret',
  slack: 'test-slack-secret',
} as const;
const SCHEMES = ['standard', 'github', 'slack'] as const;
const BODY = JSON.stringify({ text: 'héllo ✓', n: 42 });

function verify(
  scheme: SignatureScheme,
  headers: Record<string, string>,
  body = BODY,
  secret: string = SECRETS[scheme as keyof typeof SECRETS],
  nowS?: number,
) {
  return verifyWebhook({
    scheme,
    secret,
    body: Buffer.from(body),
    headers,
    ...(nowS === undefined ? {} : { nowS }),
  });
}

const codeOf = (fn: () => unknown) => {
  try {
    fn();
    return 'accepted';
  } catch (error) {
    return (error as SwitchboardError).code;
  }
};

describe('signWebhook against the gateway verifier', () => {
  it.each(SCHEMES)('%s: accepted, with the delivery id the gateway dedupes on', (scheme) => {
    const headers = signWebhook(scheme, SECRETS[scheme], BODY, { id: 'msg_7' });
    const verified = verify(scheme, headers);
    if (scheme === 'slack') expect(verified.deliveryId).toMatch(/^sha256:[0-9a-f]{64}$/);
    else expect(verified.deliveryId).toBe('msg_7');
    // A Buffer body signs the same bytes.
    expect(verify(scheme, signWebhook(scheme, SECRETS[scheme], Buffer.from(BODY)))).toBeDefined();
  });

  it.each(SCHEMES)('%s: a changed body, a wrong secret are refused', (scheme) => {
    const headers = signWebhook(scheme, SECRETS[scheme], BODY);
    expect(codeOf(() => verify(scheme, headers, `${BODY} `))).toBe('signature_invalid');
    const other = scheme === 'standard' ? 'whsec_AAAAAAAAAAAAAAAAAAAAAAAA' : 'another-secret';
    expect(codeOf(() => verify(scheme, headers, BODY, other))).toBe('signature_invalid');
  });

  it('standard and slack: a time 10 minutes off is stale', () => {
    const at = new Date(Date.now() - 10 * 60_000);
    for (const scheme of ['standard', 'slack'] as const) {
      const headers = signWebhook(scheme, SECRETS[scheme], BODY, { at });
      expect(codeOf(() => verify(scheme, headers))).toBe('timestamp_stale');
    }
  });

  it("matches the tests' own reference signers byte for byte", () => {
    const at = new Date('2026-01-05T06:00:00Z');
    const nowS = at.getTime() / 1000;
    expect(signWebhook('github', SECRETS.github, BODY, { id: 'd1', event: 'push' })).toEqual(
      githubHeaders(SECRETS.github, BODY, 'd1', 'push'),
    );
    expect(signWebhook('slack', SECRETS.slack, BODY, { at })).toEqual(
      slackHeaders(SECRETS.slack, BODY, nowS),
    );
    expect(signWebhook('standard', SECRETS.standard, BODY, { id: 'm1', at })).toEqual(
      standardHeaders(SECRETS.standard, BODY, 'm1', at),
    );
    // The base64 alone (no whsec_) is the same key.
    expect(signWebhook('standard', SECRETS.standard.slice(6), BODY, { id: 'm1', at })).toEqual(
      standardHeaders(SECRETS.standard, BODY, 'm1', at),
    );
  });

  it('refuses what no sender could sign with, saying why', () => {
    expect(() => signWebhook('standard', 'not base64!', BODY)).toThrow(
      /base64, optionally prefixed whsec_/,
    );
    expect(() => signWebhook('github', '', BODY)).toThrow(/empty secret/);
    expect(() => signWebhook('none' as 'github', 's', BODY)).toThrow(/unknown scheme "none"/);
  });

  it('extra headers are sent too; the signature headers win', () => {
    const headers = signWebhook('github', SECRETS.github, BODY, {
      headers: { 'X-Custom': '1', 'X-Hub-Signature-256': 'sha256=forged' },
    });
    expect(headers['x-custom']).toBe('1');
    expect(verify('github', headers).deliveryId).toBe(headers['x-github-delivery']);
  });
});

describe('webhookInput', () => {
  it("is what the gateway stores and passes: lowercased, signatures dropped, the scheme's id", () => {
    const headers = signWebhook('standard', SECRETS.standard, BODY, {
      id: 'msg_9',
      headers: { Authorization: 'Bearer x', 'X-Trace': 't' },
    });
    const input = webhookInput('events', BODY, headers);
    expect(input.headers).toEqual(storableHeaders(headers));
    expect(input.deliveryId).toBe('msg_9');
    for (const secret of SECRET_WEBHOOK_HEADERS) expect(input.headers).not.toHaveProperty(secret);
    expect(webhookInput('e', '{}', {}, { deliveryId: 'given' }).deliveryId).toBe('given');
    expect(webhookInput('e', '{}').deliveryId).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('callHandler', () => {
  const answering = (answer: unknown) => ({ callTool: async () => answer });
  const trig = { session: { key: 'k' }, message: 'm' };

  it('reads structuredContent, else JSON text, and applies the contract', async () => {
    expect(
      await callHandler(answering({ structuredContent: { triggers: [trig] } }), 't', {}),
    ).toEqual({ triggers: [{ ...trig, run: true }] });
    expect(
      await callHandler(
        answering({ content: [{ type: 'text', text: '{"triggers":[]}' }] }),
        't',
        {},
      ),
    ).toEqual({ triggers: [] });
  });

  it('throws on isError, on text that is not JSON, and on a contract break', async () => {
    await expect(
      callHandler(answering({ isError: true, content: [{ type: 'text', text: 'boom' }] }), 'h', {}),
    ).rejects.toThrow('h answered an error: boom');
    await expect(
      callHandler(answering({ content: [{ type: 'text', text: 'nope' }] }), 'h', {}),
    ).rejects.toThrow(/expected structuredContent or JSON text/);
    await expect(
      callHandler(answering({ structuredContent: { triggers: [{ ...trig, extra: 1 }] } }), 'h', {}),
    ).rejects.toThrow(/invalid handler result: triggers\[0\]\.extra/);
  });
});
