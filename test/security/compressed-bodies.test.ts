/**
 * Compressed request bodies (issue 12, "compressed-body 415 … no test"). A webhook body is
 * checked against its signature byte for byte, so a compressed one is refused (415) before
 * anything is read or stored: decompressing first would check other bytes, and would let a
 * sender make the gateway inflate whatever it likes. The API and MCP bodies go through
 * body-parser, which inflates gzip within the same limit as a plain body: a small gzip bomb
 * is refused at the limit (413), and an encoding it does not know is a 415.
 */
import { createHmac, randomUUID } from 'node:crypto';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { API_BODY_LIMIT } from '../../gateway/src/api/router.ts';
import { MCP_BODY_LIMIT } from '../../gateway/src/http/mcp-routes.ts';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';

const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/webhooks');
const GITHUB_SECRET = 'test-github-secret';

/** GitHub's headers for these exact bytes (a sender signs what it sends, compressed or not). */
function githubSigned(body: Buffer, extra: Record<string, string> = {}) {
  return {
    'content-type': 'application/json',
    'x-github-event': 'ping',
    'x-github-delivery': randomUUID(),
    'x-hub-signature-256': `sha256=${createHmac('sha256', GITHUB_SECRET).update(body).digest('hex')}`,
    ...extra,
  };
}

describe('compressed request bodies', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: FIXTURES,
    SWITCHBOARD_POLICY: path.join(FIXTURES, 'policy.yaml'),
  });
  const deliveries = async () =>
    (await gw().sql<{ n: number }[]>`select count(*)::int as n from webhook_deliveries`)[0]!.n;
  const hook = (body: Buffer, headers: Record<string, string>) =>
    fetch(`${gw().url}/hooks/hooks/github`, { method: 'POST', headers, body });

  it.each(['gzip', 'deflate', 'br', 'GZIP'])(
    'a webhook body with Content-Encoding %s: 415 unsupported_encoding, nothing stored',
    async (encoding) => {
      const before = await deliveries();
      const body = gzipSync(JSON.stringify({ triggers: [] }));
      const res = await hook(body, githubSigned(body, { 'content-encoding': encoding }));
      expect(res.status).toBe(415);
      expect(await res.json()).toMatchObject({
        error: { code: 'unsupported_encoding', message: 'webhook bodies must not be compressed' },
      });
      expect(await deliveries()).toBe(before);
    },
  );

  it('Content-Encoding identity is no compression: the signed delivery is accepted', async () => {
    const before = await deliveries();
    const body = Buffer.from(JSON.stringify({ triggers: [] }));
    const headers = githubSigned(body, { 'content-encoding': 'identity' });
    const res = await hook(body, headers);
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({
      accepted: true,
      deliveryId: headers['x-github-delivery'],
    });
    expect(await deliveries()).toBe(before + 1);
  });

  it('a gzip bomb to the API is refused at the body limit after inflating, and the gateway answers on', async () => {
    // 64 MiB of one byte is ~64 KiB of gzip: 64 times the API's limit once inflated.
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(API_BODY_LIMIT);
    const res = await fetch(`${gw().url}/api/v1/tasks`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${ADMIN_KEY}`,
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      },
      body: bomb,
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({
      error: {
        code: 'payload_too_large',
        limit: API_BODY_LIMIT,
        message: `request body is larger than the limit of ${API_BODY_LIMIT} bytes`,
      },
    });
    expect((await fetch(`${gw().url}/healthz`)).status).toBe(200);
  });

  it('a gzip bomb to /mcp: without a token 401 (auth before the body); with one, refused at the MCP body limit', async () => {
    const bomb = gzipSync(Buffer.alloc(8 * MCP_BODY_LIMIT, 0x20));
    const post = (token: string) =>
      fetch(`${gw().url}/mcp`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          accept: 'application/json, text/event-stream',
        },
        body: bomb,
      });
    const anonymous = await post('not-a-token');
    expect({ status: anonymous.status, body: await anonymous.json() }).toMatchObject({
      status: 401,
      body: { error: { code: 'invalid_token', message: 'the token is not a JWT' } },
    });
    const granted = await fetch(`${gw().url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ external: true, scope: ['hooks:*'] }),
    });
    expect(granted.status).toBe(201);
    const { mcp } = (await granted.json()) as { mcp: { token: string } };
    const res = await post(mcp.token);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({
      error: {
        code: 'payload_too_large',
        limit: MCP_BODY_LIMIT,
        message: `request body is larger than the limit of ${MCP_BODY_LIMIT} bytes`,
      },
    });
  });

  it('an encoding the API does not know: 415 unsupported_encoding', async () => {
    const res = await fetch(`${gw().url}/api/v1/tasks`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${ADMIN_KEY}`,
        'content-type': 'application/json',
        'content-encoding': 'x-unknown',
      },
      body: '{}',
    });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({
      error: { code: 'unsupported_encoding', message: 'request body encoding is not supported' },
    });
  });
});
