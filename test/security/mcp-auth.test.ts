import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';
import { startGatewayProcess } from '../helpers/gateway-process.ts';

// The unauthenticated front of the MCP endpoints. L6: /mcp/<name> must not tell a caller without
// a valid token which integrations exist (ready, refused, failed, unknown, built in, or a name
// no integration could have): one answer for every name. Issue 13 item 1: a request's path
// (`/mcp/x%00`) put into WWW-Authenticate made Node throw outside any handler and ended the
// process.
const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/integrations');
const POLICY = path.join(REPO_ROOT, 'test/fixtures/mcp-auth/policy.yaml');

/** ready, refused (a setting is missing), invalid manifest, unknown, built in, and invalid. */
const NAMES = [
  'echo',
  'needs-setting',
  'broken',
  'nope',
  'switchboard',
  'UPPER',
  'a',
  'x%00',
  'x%0d%0aset-cookie:%20a=b',
  `${'x'.repeat(60)}`,
  '%22%3e',
];

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

async function answer(url: string, init: RequestInit): Promise<Answer> {
  const res = await fetch(url, init);
  const headers: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    // The only parts allowed to differ: the request's own id and the clock.
    if (name !== 'x-request-id' && name !== 'date') headers[name] = value;
  });
  return { status: res.status, headers, body: await res.text() };
}

describe('MCP endpoints before authentication', () => {
  const gw = useTestGateway({ INTEGRATION_DIRS: FIXTURES, SWITCHBOARD_POLICY: POLICY });

  async function grantAggregateToken(): Promise<string> {
    const res = await fetch(`${gw().url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ external: true, scope: ['echo:*'] }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { mcp: { token: string } }).mcp.token;
  }

  it('give one answer for every integration name: existing, refused, unknown or invalid', async () => {
    // The fixtures are what the names claim to be.
    expect(gw().registry.get('echo')?.state).toBe('ready');
    expect(gw().registry.get('needs-setting')?.state).toBe('refused');
    expect(gw().registry.get('nope')).toBeUndefined();
    const aggregate = await grantAggregateToken();
    const credentials: Record<string, Record<string, string>> = {
      none: {},
      garbage: { authorization: 'Bearer nope' },
      'not a bearer': { authorization: 'Basic dXNlcjpwYXNz' },
      'a JWT of ours for /mcp': { authorization: `Bearer ${aggregate}` },
    };
    for (const [credential, headers] of Object.entries(credentials)) {
      for (const method of ['POST', 'GET', 'DELETE']) {
        const answers = new Map<string, Answer>();
        for (const name of NAMES) {
          answers.set(
            name,
            await answer(`${gw().url}/mcp/${name}`, {
              method,
              headers: {
                accept: 'application/json, text/event-stream',
                'content-type': 'application/json',
                ...headers,
              },
              ...(method === 'POST' && {
                body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
              }),
            }),
          );
        }
        const first = answers.get('echo')!;
        expect(first.status, `${credential} ${method}`).toBe(401);
        for (const [name, other] of answers) {
          expect(other, `${credential} ${method} /mcp/${name}`).toEqual(first);
        }
      }
    }
  });

  it('publish the same protected resource metadata for every well-formed name', async () => {
    const docs = await Promise.all(
      ['echo', 'needs-setting', 'nope'].map(async (name) => {
        const res = await fetch(`${gw().url}/.well-known/oauth-protected-resource/mcp/${name}`);
        expect(res.status).toBe(200);
        return { name, doc: await res.json() };
      }),
    );
    for (const { name, doc } of docs) {
      expect(doc).toEqual({
        resource: `${gw().url}/mcp/${name}`,
        bearer_methods_supported: ['header'],
        resource_name: `Switchboard: ${name}`,
      });
    }
    // A name no integration could have is not a resource; the answer does not repeat it.
    for (const name of ['UPPER', 'x%00', '%22%3e']) {
      const res = await fetch(`${gw().url}/.well-known/oauth-protected-resource/mcp/${name}`);
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({
        error: { code: 'not_found', message: 'no such protected resource' },
      });
    }
  });
});

describe('a request path that is not a name', () => {
  it('never reaches a header and cannot stop the gateway', async () => {
    const gw = await startGatewayProcess({
      INTEGRATION_DIRS: FIXTURES,
      SWITCHBOARD_POLICY: POLICY,
    });
    try {
      for (const name of ['x%00', 'x%0d%0aset-cookie:%20a=b', 'x%0a', 'x%7f', 'caf%c3%a9']) {
        for (const authorization of ['Bearer nope', 'Bearer a.b.c', '']) {
          const res = await fetch(`${gw.url}/mcp/${name}`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              ...(authorization && { authorization }),
            },
            body: '{}',
          });
          expect(res.status, `${name} ${authorization}`).toBe(401);
          expect(res.headers.get('set-cookie')).toBeNull();
          expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="switchboard"/);
        }
      }
      expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
      expect(gw.child.exitCode).toBeNull();
      expect(gw.logs.map((l) => l.msg)).not.toContain('unhandled rejection');
    } finally {
      await gw.cleanup();
    }
  });
});
