/**
 * The production outbound webhook path end to end (issue 12, "Tests that can fail"): the other
 * outbox tests inject a fetch stand-in for the poster; here nothing is injected. A real gateway
 * runs a task with the reference agent, the task's end writes the dispatch row, the gateway's
 * own outbox worker posts it through outbox/post-webhook.ts (Standard Webhooks signing, the
 * SSRF-guarded client, policy dispatch.allowHosts read from the running policy).
 *
 * Loopback is refused by the SSRF guard unless the policy lists it: the receiver's
 * 127.0.0.1:<port> is listed, a second receiver's port is not (an entry with a port allows that
 * port only), so one task is delivered and the other dead-lettered `ssrf_refused`.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWebhookSecret } from '../../gateway/src/outbox/sign.ts';
import { ADMIN_KEY, REFERENCE_AGENT_RUNNER, useTestGateway } from '../helpers/gateway.ts';

interface Received {
  url: string;
  body: string;
  headers: Record<string, string>;
  verified: boolean;
}

/** A receiver that verifies the Standard Webhooks signature: 204 when it holds, else 401. */
async function startVerifyingReceiver(secret: string) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, String(v)]),
      );
      let verified = true;
      try {
        new Webhook(secret).verify(body, headers);
      } catch {
        verified = false;
      }
      received.push({ url: req.url ?? '', body, headers, verified });
      res.writeHead(verified ? 204 : 401).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-webhook-e2e-'));
const policyFile = path.join(tmp, 'policy.yaml');
const secret = generateWebhookSecret();

describe('built-in webhook dispatch through the production poster (no stand-in)', () => {
  let allowed: Awaited<ReturnType<typeof startVerifyingReceiver>>;
  let unlisted: Awaited<ReturnType<typeof startVerifyingReceiver>>;
  // Before the gateway starts (hooks run in order): the policy names the receiver's port.
  beforeAll(async () => {
    allowed = await startVerifyingReceiver(secret);
    unlisted = await startVerifyingReceiver(secret);
    fs.writeFileSync(
      policyFile,
      `apiVersion: switchboard/policy/v1
tokens: { defaultTtl: 15m, maxTtl: 2h }
dispatch:
  allowHosts: ["127.0.0.1:${allowed.port}"]
profiles:
  scripted:
    runner: ${REFERENCE_AGENT_RUNNER}
    tools: ["switchboard:*"]
    timeout: 2m
`,
    );
  });
  afterAll(async () => {
    await allowed?.close();
    await unlisted?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const gw = useTestGateway({ SWITCHBOARD_POLICY: policyFile });
  const auth = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };

  // biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; the API validates them
  type Json = Record<string, any>;
  const api = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${gw().url}/api/v1${route}`, {
      method,
      headers: auth,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Json };
  };

  /** Runs a plan with no calls to completion with this dispatch; its outbox row once settled. */
  const runDispatched = async (url: string, result: string) => {
    const created = await api('POST', '/tasks', {
      profile: 'scripted',
      prompt: JSON.stringify({ calls: [], result }),
      dispatch: { type: 'webhook', config: { url, secret } },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const taskId = created.json.task.id as string;
    const until = Date.now() + 45_000;
    for (;;) {
      const rows = await api('GET', `/outbox?taskId=${taskId}`);
      expect(rows.status, JSON.stringify(rows.json)).toBe(200);
      const row = rows.json.entries[0];
      if (row && (row.status === 'delivered' || row.status === 'dead')) return { taskId, row };
      if (Date.now() > until) {
        const task = await api('GET', `/tasks/${taskId}`);
        throw new Error(`no settled outbox row: ${JSON.stringify({ rows, task: task.json })}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('an allowed host: delivered once, signed over the exact body, verified by the receiver', async () => {
    const url = `http://127.0.0.1:${allowed.port}/hooks/tasks?src=e2e`;
    const { taskId, row } = await runDispatched(url, 'all done');
    expect(row).toMatchObject({
      kind: 'dispatch',
      taskId,
      status: 'delivered',
      attempts: 1,
      lastError: null,
      target: { type: 'webhook', config: { url, secret: '***' } },
    });
    expect(row.attemptLog).toEqual([expect.objectContaining({ attempt: 1, status: 204 })]);
    expect(allowed.received).toHaveLength(1);
    const [got] = allowed.received;
    expect(got!.url).toBe('/hooks/tasks?src=e2e');
    expect(got!.verified).toBe(true);
    expect(got!.headers['webhook-id']).toBe(`outbox_${row.id}`);
    expect(got!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(got!.body)).toEqual({
      type: 'task:dispatch',
      task: { id: taskId, status: 'complete', result: 'all done' },
      session: null,
    });
    // The signature covers the body: one changed byte no longer verifies.
    expect(() => new Webhook(secret).verify(`${got!.body} `, got!.headers)).toThrow(
      'No matching signature found',
    );
  });

  it('a loopback port the policy does not list: dead at the first attempt, ssrf_refused, nothing sent', async () => {
    const url = `http://127.0.0.1:${unlisted.port}/hooks/tasks`;
    const { row } = await runDispatched(url, 'not for you');
    expect(row).toMatchObject({ status: 'dead', attempts: 1 });
    const refusal = `ssrf_refused: refused http://127.0.0.1:${unlisted.port}/: 127.0.0.1 is a loopback address (allow the host in policy dispatch.allowHosts)`;
    expect(row.lastError).toBe(refusal);
    expect(row.attemptLog).toEqual([expect.objectContaining({ attempt: 1, error: refusal })]);
    expect(row.attemptLog[0].status).toBeUndefined();
    // The row is dead (settled) before we look: the refusal happened before any socket opened.
    expect(unlisted.received).toEqual([]);
  });
});
