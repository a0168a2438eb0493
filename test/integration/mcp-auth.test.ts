import http from 'node:http';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';

// Authorization of the agent-facing MCP endpoints (MCP spec 2025-11-25 "Authorization":
// resource servers answer 401 with WWW-Authenticate naming the RFC 9728 metadata, validate the
// audience, 403 insufficient_scope; "Transports": validate Origin against DNS rebinding).
const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/integrations');

interface Granted {
  task: { id: string };
  mcp: { url: string; token: string };
  integrations: Array<{ name: string; url: string; token: string }>;
}

describe('MCP endpoint authorization', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: FIXTURES,
    SWITCHBOARD_POLICY: path.join(REPO_ROOT, 'test/fixtures/mcp-auth/policy.yaml'),
  });

  async function grant(scope: string[]): Promise<Granted> {
    const res = await fetch(`${gw().url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ external: true, scope }),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as Granted;
  }

  const rpc = (url: string, headers: Record<string, string> = {}, body?: unknown) =>
    fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...headers,
      },
      body: JSON.stringify(body ?? { jsonrpc: '2.0', id: 1, method: 'ping' }),
    });

  it('401 without a token, naming the protected resource metadata, which names no authorization server', async () => {
    for (const suffix of ['', '/echo']) {
      const res = await rpc(`${gw().url}/mcp${suffix}`);
      expect(res.status).toBe(401);
      // /mcp names its metadata; /mcp/<name> leaves it to the well-known path (the same
      // challenge for every name, so none tells which integrations exist).
      expect(res.headers.get('www-authenticate')).toBe(
        suffix === ''
          ? `Bearer realm="switchboard", resource_metadata="${gw().url}/.well-known/oauth-protected-resource/mcp"`
          : 'Bearer realm="switchboard"',
      );
      expect(await res.json()).toEqual({
        error: {
          code: 'unauthorized',
          message: 'no bearer token was sent',
          hint: expect.stringMatching(/^Switchboard issues no tokens by OAuth/),
        },
      });
      const metadata = await (
        await fetch(`${gw().url}/.well-known/oauth-protected-resource/mcp${suffix}`)
      ).json();
      // The gateway issues no tokens by OAuth: naming it as authorization server sent OAuth
      // clients into discovery and registration that could only fail (issue 12 item 8).
      expect(metadata).toEqual({
        resource: `${gw().url}/mcp${suffix}`,
        bearer_methods_supported: ['header'],
        resource_name: suffix ? 'Switchboard: echo' : 'Switchboard',
      });
      expect((await fetch(`${gw().url}/.well-known/oauth-authorization-server`)).status).toBe(404);
    }
  });

  it('401 invalid_token for a bad token and for a token of another endpoint', async () => {
    const bad = await rpc(`${gw().url}/mcp`, { authorization: 'Bearer nope' });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toBe(
      `Bearer realm="switchboard", resource_metadata="${gw().url}/.well-known/oauth-protected-resource/mcp", error="invalid_token", error_description="the token is not a JWT"`,
    );
    expect(await bad.json()).toMatchObject({
      error: { code: 'invalid_token', message: 'the token is not a JWT' },
    });
    const granted = await grant(['echo:*']);
    // The /mcp token on /mcp/echo, and the /mcp/echo token on /mcp.
    const crossed = [
      [`${gw().url}/mcp/echo`, granted.mcp.token],
      [`${gw().url}/mcp`, granted.integrations[0]!.token],
    ] as const;
    for (const [url, token] of crossed) {
      const res = await rpc(url, { authorization: `Bearer ${token}` });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({
        error: { code: 'invalid_token', message: 'the token was issued for another endpoint' },
      });
    }
  });

  it('403 insufficient_scope on /mcp/<integration> outside the scope; 404 for no such integration', async () => {
    const granted = await grant(['needs-setting:*']);
    const g = await gw().tokens.verify(granted.mcp.token, `${gw().url}/mcp`);
    const mint = (audience: string) =>
      gw().tokens.mint({
        taskId: g.taskId,
        sessionId: null,
        scope: ['chat:*'],
        audience,
        ttlMs: 60_000,
      });
    const echo = await mint(`${gw().url}/mcp/echo`);
    const res = await rpc(`${gw().url}/mcp/echo`, { authorization: `Bearer ${echo.token}` });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(await res.json()).toMatchObject({ error: { code: 'insufficient_scope' } });
    const nope = await mint(`${gw().url}/mcp/nope`);
    expect(
      (await rpc(`${gw().url}/mcp/nope`, { authorization: `Bearer ${nope.token}` })).status,
    ).toBe(404);
  });

  it('403 for a foreign Origin or Host (DNS rebinding), before looking at the token', async () => {
    const evilOrigin = await rpc(`${gw().url}/mcp`, { origin: 'http://evil.example' });
    expect(evilOrigin.status).toBe(403);
    expect(await evilOrigin.json()).toMatchObject({
      error: { code: 'forbidden', message: 'Origin "http://evil.example" is not allowed' },
    });
    const port = new URL(gw().url).port;
    // fetch will not send another Host; node:http will.
    const evilHost = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${gw().url}/mcp`, {
        method: 'POST',
        headers: { host: `evil.example:${port}`, 'content-type': 'application/json' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('{}');
    });
    expect(evilHost).toBe(403);
    // Loopback aliases of the same port are this gateway.
    const alias = await rpc(`http://localhost:${port}/mcp`);
    expect(alias.status).toBe(401);
  });

  it('a non-JSON body is a JSON-RPC parse error', async () => {
    const granted = await grant(['echo:*']);
    const res = await fetch(`${gw().url}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${granted.mcp.token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: '{"jsonrpc":',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: -32700 } });
  });

  it('a body with a BOM, or sent chunked (express.json reads that one), is read alike', async () => {
    const granted = await grant(['echo:*']);
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    const send = async (payload: RequestInit['body'], extra: Record<string, unknown> = {}) => {
      const res = await fetch(`${gw().url}/mcp`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${granted.mcp.token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: payload,
        ...extra,
      });
      return { status: res.status, body: await res.text() };
    };
    const plain = await send(body);
    expect(plain.status).toBe(200);
    expect(JSON.parse(plain.body).result.tools).toEqual(expect.any(Array));
    expect(await send(`\ufeff${body}`)).toEqual(plain);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(body));
        controller.close();
      },
    });
    expect(await send(stream, { duplex: 'half' })).toEqual(plain);
  });

  it('a real client lists and calls with its token; the policy rate limit answers 429 with Retry-After', async () => {
    const granted = await grant(['echo:*']);
    const echo = granted.integrations.find((i) => i.name === 'echo')!;
    const client = new Client({ name: 'mcp-auth-test', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(echo.url), {
        requestInit: { headers: { authorization: `Bearer ${echo.token}` } },
      }),
    );
    try {
      const tools = (await client.listTools()).tools.map((t) => t.name);
      expect(tools).toContain('report_env');
    } finally {
      await client.close();
    }
    // 8 a minute: the connect and list above used some; keep going until refused.
    let res: Response | undefined;
    for (let i = 0; i < 10; i++) {
      res = await rpc(echo.url, { authorization: `Bearer ${echo.token}` });
      if (res.status === 429) break;
    }
    expect(res!.status).toBe(429);
    expect(Number(res!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await res!.json()).toMatchObject({ error: { code: 'rate_limited' } });
  });
});
