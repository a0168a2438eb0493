import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { generateApiKey } from '../../gateway/src/keys/format.ts';
import { insertApiKey } from '../../gateway/src/keys/store.ts';
import { AGENT } from '../fixtures/agents/policy.ts';
import { ADMIN_KEY, REPO_ROOT, type TestGateway } from './gateway.ts';

/** The documents fixtures: alpha and beta declare (and are granted) `documents`, plain does not. */
export const DOCUMENT_FIXTURES = path.join(REPO_ROOT, 'test/fixtures/documents');

/** The fixtures' policy, and a profile whose agent sleeps (for a running task with a session). */
export function writeDocumentsPolicy(): string {
  const runner = `{ driver: process, command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(AGENT)}, "{prompt}"] }`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-documents-policy-'));
  const file = path.join(dir, 'policy.yaml');
  fs.writeFileSync(
    file,
    `apiVersion: switchboard/policy/v1
integrations:
  alpha: { enabled: true, grants: [documents] }
  beta: { enabled: true, grants: [documents] }
  plain: { enabled: true }
tokens: { defaultTtl: 15m, maxTtl: 2h }
profiles:
  agent:
    runner: ${runner}
    tools: ["alpha:*"]
`,
  );
  return file;
}

/**
 * An integration's process key as the registry would make it, with documents:* (the launch
 * gives a granted integration's processes this scope; here the row is made directly).
 */
export async function integrationKey(gw: TestGateway, integration: string): Promise<string> {
  const generated = generateApiKey(integration);
  await insertApiKey(gw.sql, {
    prefix: generated.prefix,
    hash: generated.hash,
    name: `integration:${integration}`,
    scopes: ['documents:read', 'documents:write'],
    source: 'integration',
    integration,
    createdBy: 'test',
  });
  return generated.key;
}

export function apiClient(gw: () => TestGateway, key: string = ADMIN_KEY) {
  return async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${gw().url}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {}
    return { status: res.status, body: json };
  };
}

/** An external task's built-in server (/mcp/switchboard) client, with a token of `scope`. */
export async function builtinClient(gw: () => TestGateway, scope: string[]) {
  const api = apiClient(gw);
  const created = await api('POST', '/tasks', { external: true, scope });
  if (created.status !== 201) throw new Error(`task: ${JSON.stringify(created.body)}`);
  const task = created.body.task as { id: string };
  const config = await api('POST', `/tasks/${task.id}/config`, { format: 'json' });
  if (config.status !== 200) throw new Error(`config: ${JSON.stringify(config.body)}`);
  const env = config.body.env as Record<string, string>;
  return connectBuiltin(gw, env.SWITCHBOARD_TOKEN_SWITCHBOARD!);
}

export async function connectBuiltin(gw: () => TestGateway, token: string) {
  const client = new Client({ name: 'documents-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${gw().url}/mcp/switchboard`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

/**
 * A fake OpenAI-compatible embeddings endpoint over real HTTP: a deterministic hashed bag of
 * words (each lowercased word adds 1 to one of `dims` buckets, then the vector is normalised),
 * so texts sharing words are near. `down` makes it answer 503.
 */
export async function fakeEmbeddings(dims = 64) {
  const state = { down: false, calls: 0 };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      state.calls++;
      if (state.down) {
        res.writeHead(503).end('down');
        return;
      }
      const { input } = JSON.parse(body) as { input: string };
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ data: [{ embedding: bagOfWords(input, dims) }] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/embeddings`,
    state,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export function bagOfWords(text: string, dims: number): number[] {
  const v = new Array<number>(dims).fill(0);
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    let h = 2166136261;
    for (const ch of word) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
    v[h % dims]! += 1;
  }
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  return v.map((x) => x / norm);
}
