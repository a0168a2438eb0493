import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keyPrefix } from '../../gateway/src/keys/format.ts';
import {
  provisionIntegrationKey,
  retireInstanceKeys,
} from '../../gateway/src/keys/integration-key.ts';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';
import { readReports, waitFor } from '../helpers/processes.ts';

// Issue 6: an integration's processes receive SWITCHBOARD_API_KEY, provisioned by the gateway
// for that integration (sbk_<name>_…, scope sessions:write, only sessions `<name>:…`), revoked
// when the integration is rebuilt or refused. The listener (test/fixtures/processes/poster.mjs)
// uses it over HTTP and reports what it got back.
const STDIO_SERVER = path.join(REPO_ROOT, 'test/fixtures/upstreams/stdio-server.ts');
const POSTER = path.join(REPO_ROOT, 'test/fixtures/processes/poster.mjs');
const REPORTER = path.join(REPO_ROOT, 'test/fixtures/processes/reporter.mjs');
// Inside the repository so that `node --import tsx` finds tsx.
const ROOT = fs.mkdtempSync(path.join(REPO_ROOT, 'test/fixtures/.generated-'));
const POSTER_REPORTS = path.join(ROOT, 'poster.jsonl');
const QUIET_REPORTS = path.join(ROOT, 'quiet.jsonl');
const POLICY = path.join(ROOT, 'policy.yaml');

function writeIntegration(name: string, script: string, capabilities: string): void {
  fs.mkdirSync(path.join(ROOT, name));
  fs.writeFileSync(
    path.join(ROOT, name, 'switchboard.yaml'),
    `apiVersion: switchboard/v1
name: ${name}
version: 1.0.0
description: a listener for the process API key tests
server: { transport: stdio, command: node, args: ["--import", "tsx", "${STDIO_SERVER}"] }
settings:
  - { key: REPORT_FILE }
processes:
  - { name: listener, command: node, args: ["${script}"], requires: [REPORT_FILE] }
capabilities: [${capabilities}]
`,
  );
}

const policy = (posterEnabled: boolean) => `apiVersion: switchboard/policy/v1
integrations:
  poster: { enabled: ${posterEnabled}, grants: [processes, sessions.write], settings: { REPORT_FILE: "${POSTER_REPORTS}" } }
  quiet: { enabled: true, grants: [processes], settings: { REPORT_FILE: "${QUIET_REPORTS}" } }
`;

writeIntegration('poster', POSTER, 'processes, sessions.write');
// Processes but no sessions.write: nothing to use a key for, so none is provisioned.
writeIntegration('quiet', REPORTER, 'processes');
fs.writeFileSync(POLICY, policy(true));
afterAll(() => fs.rmSync(ROOT, { recursive: true, force: true }));

interface PosterReport {
  pid: number;
  key: string;
  sessionId: string;
  statuses: { create: number; post: number; createOther: number; list: number };
  otherError: { code: string; message: string } | null;
}
// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; the API validates them
type Json = Record<string, any>;
const posterReports = () => readReports(POSTER_REPORTS) as unknown as PosterReport[];

describe('the API key of an integration’s processes', () => {
  const gw = useTestGateway({ INTEGRATION_DIRS: ROOT, SWITCHBOARD_POLICY: POLICY });
  const call = async (key: string, method: string, route: string, body?: unknown) => {
    const res = await fetch(`${gw().url}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Json };
  };
  const activeKeys = async () =>
    ((await call(ADMIN_KEY, 'GET', '/keys')).body.keys as Array<Record<string, unknown>>).filter(
      (k) => k.source === 'integration',
    );
  /** The listener's first report (its process starts with the gateway, before any test). */
  const firstReport = async (): Promise<PosterReport> => {
    await waitFor(() => posterReports().length >= 1);
    return posterReports()[0]!;
  };

  it('the process creates its session and posts into it; other sessions and reads are refused', async () => {
    await waitFor(() => posterReports().length === 1);
    const first = await firstReport();
    expect(first.key).toMatch(/^sbk_poster_[A-Za-z0-9_-]{43}$/);
    expect(first.statuses).toEqual({ create: 201, post: 201, createOther: 403, list: 403 });
    expect(first.otherError).toMatchObject({
      code: 'forbidden',
      message: expect.stringContaining(
        'may only post into sessions whose key starts with "poster:"',
      ),
    });
    const messages = await call(ADMIN_KEY, 'GET', `/sessions/${first.sessionId}/messages`);
    expect(messages.body.messages).toEqual([
      expect.objectContaining({
        role: 'integration',
        content: `hello from poster pid ${first.pid}`,
        source: { actor: `key:${keyPrefix(first.key)}` },
      }),
    ]);
  });

  it('is listed as the integration’s key: sessions:write only, named after it', async () => {
    const first = await firstReport();
    expect(await activeKeys()).toEqual([
      expect.objectContaining({
        prefix: keyPrefix(first.key),
        name: 'integration:poster',
        source: 'integration',
        integration: 'poster',
        scopes: ['sessions:write'],
        createdBy: expect.stringMatching(/^gateway:/),
      }),
    ]);
    expect(keyPrefix(first.key)).toMatch(/^sbk_poster_[A-Za-z0-9_-]{8}$/);
  });

  it('may not post into another integration’s session, nor read or write anything else', async () => {
    const first = await firstReport();
    const other = await call(ADMIN_KEY, 'POST', '/sessions', { key: 'other:y' });
    const otherId = other.body.session.id as string;
    const posted = await call(first.key, 'POST', `/sessions/${otherId}/messages`, {
      content: 'not mine',
    });
    expect(posted.status).toBe(403);
    expect(posted.body.error).toMatchObject({
      code: 'forbidden',
      message: expect.stringContaining('sessions whose key starts with "poster:"'),
    });
    expect(posted.body.error).not.toHaveProperty('sessionKey');
    const own = await call(first.key, 'POST', '/sessions', { key: 'poster:x' });
    expect(own.status).toBe(200);
    for (const [method, route, body] of [
      ['GET', '/sessions', undefined],
      ['GET', `/sessions/${otherId}`, undefined],
      ['GET', `/sessions/${first.sessionId}/messages`, undefined],
      ['GET', '/tasks', undefined],
      ['POST', '/tasks', { prompt: 'x' }],
      ['GET', '/keys', undefined],
      ['POST', '/keys', { name: 'mine', scopes: ['*'] }],
      ['GET', '/audit', undefined],
    ] as const) {
      const res = await call(first.key, method, route, body);
      expect({ method, route, status: res.status }).toEqual({ method, route, status: 403 });
    }
  });

  it('its provisioning is audited by prefix, never the key', async () => {
    const first = await firstReport();
    const audit = await call(ADMIN_KEY, 'GET', '/audit?action=keys.provision');
    expect(audit.body.entries).toEqual([
      expect.objectContaining({
        actor: 'system',
        action: 'keys.provision',
        target: keyPrefix(first.key),
        details: { integration: 'poster', scopes: ['sessions:write'], revoked: [] },
      }),
    ]);
    const everything = JSON.stringify((await call(ADMIN_KEY, 'GET', '/audit?limit=500')).body);
    expect(everything).not.toContain(first.key);
    expect(gw().logs.text()).not.toContain(first.key);
  });

  it('an integration without sessions.write gets no key', async () => {
    await waitFor(() => readReports(QUIET_REPORTS).length === 1);
    const env = readReports(QUIET_REPORTS)[0]!.env;
    expect(env).toMatchObject({ SWITCHBOARD_INTEGRATION: 'quiet', SWITCHBOARD_URL: gw().url });
    expect(env).not.toHaveProperty('SWITCHBOARD_API_KEY');
  });

  it('a reload provisions a new key and revokes the old one', async () => {
    const first = await firstReport();
    const reloaded = await gw().registry.reload('poster');
    expect(reloaded?.state).toBe('ready');
    await waitFor(() => posterReports().length === 2);
    const second = posterReports()[1]!;
    expect(second.key).not.toBe(first.key);
    expect(second.statuses).toEqual({ create: 200, post: 201, createOther: 403, list: 403 });
    expect(second.sessionId).toBe(first.sessionId);
    expect(await call(first.key, 'POST', '/sessions', { key: 'poster:x' })).toMatchObject({
      status: 401,
      body: { error: { code: 'unauthorized', message: 'invalid or revoked API key' } },
    });
    expect((await call(second.key, 'POST', '/sessions', { key: 'poster:x' })).status).toBe(200);
    expect((await activeKeys()).map((k) => k.prefix)).toEqual([keyPrefix(second.key)]);
    const audit = await call(ADMIN_KEY, 'GET', '/audit?action=keys.provision');
    expect(audit.body.entries[0].details.revoked).toEqual([keyPrefix(first.key)]);
  });

  it('an integration that is refused loses its key', async () => {
    await firstReport();
    const { key } = posterReports().at(-1)!;
    fs.writeFileSync(POLICY, policy(false));
    expect((await gw().registry.reload('poster'))?.state).toBe('refused');
    expect(await call(key, 'POST', '/sessions', { key: 'poster:x' })).toMatchObject({
      status: 401,
      body: { error: { code: 'unauthorized', message: 'invalid or revoked API key' } },
    });
    expect(await activeKeys()).toEqual([]);
    const audit = await call(ADMIN_KEY, 'GET', '/audit?action=keys.revoke');
    expect(audit.body.entries[0]).toMatchObject({ actor: 'system', target: keyPrefix(key) });
  });

  it('the keys of an integration removed while the gateway was down are revoked at the next discovery', async () => {
    const { key } = await provisionIntegrationKey(gw().sql, 'vanished');
    expect((await call(key, 'POST', '/sessions', { key: 'vanished:x' })).status).toBe(201);
    await gw().registry.loadAll();
    expect(await call(key, 'POST', '/sessions', { key: 'vanished:x' })).toMatchObject({
      status: 401,
      body: { error: { code: 'unauthorized', message: 'invalid or revoked API key' } },
    });
  });

  it('replicas own their keys: one instance’s build or shutdown never revokes another’s', async () => {
    const a = await provisionIntegrationKey(gw().sql, 'shared', 'replica-a');
    const b = await provisionIntegrationKey(gw().sql, 'shared', 'replica-b');
    const ok = async (key: string) =>
      (await call(key, 'POST', '/sessions', { key: 'shared:x' })).status;
    expect([await ok(a.key), await ok(b.key)]).toEqual([201, 200]);
    // replica-a rebuilds: its old key goes, b's stays.
    const a2 = await provisionIntegrationKey(gw().sql, 'shared', 'replica-a');
    expect([await ok(a.key), await ok(a2.key), await ok(b.key)]).toEqual([401, 200, 200]);
    await retireInstanceKeys(gw().sql, 'replica-a');
    expect([await ok(a2.key), await ok(b.key)]).toEqual([401, 200]);
  });
});
