/**
 * Issue 18, `switchboard webhook send`: the CLI signs through the running gateway (the
 * endpoint's scheme, the secret the gateway verifies with), POSTs to /hooks, prints the answer,
 * waits for the delivery's outcome and its tasks; exit 1 on a refusal or a failed delivery.
 * Real gateway (test/fixtures/webhooks: one endpoint per scheme, a sync one, a small one), the
 * CLI in process (runCli), both databases.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../gateway/src/cli/main.ts';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';

const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/webhooks');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-webhook-send-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const trigger = (key: string, message: string) => ({
  session: { key, dispatch: { type: 'none' } },
  message,
  run: true,
});

describe('switchboard webhook send', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: FIXTURES,
    SWITCHBOARD_POLICY: path.join(FIXTURES, 'policy.yaml'),
  });

  async function cli(args: string[], env: Record<string, string> = {}) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['webhook', 'send', ...args], {
      env: { SWITCHBOARD_URL: gw().url, SWITCHBOARD_API_KEY: ADMIN_KEY, ...env },
      out: (text) => out.push(text),
      err: (text) => err.push(text),
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  const stored = async (id: string) => {
    const [row] = await gw().sql<{ headers: Record<string, string>; body: Buffer }[]>`
      select headers, body from webhook_deliveries where id = ${id}`;
    return { headers: row!.headers, body: row!.body.toString('utf8') };
  };
  const deliveryOf = (out: string) => /delivery (\S+) /.exec(out)?.[1] ?? '';

  it('github: signs, sends with X-GitHub-Event, waits, and prints the delivery and its 3 tasks', async () => {
    const body = JSON.stringify({
      triggers: [1, 2, 3].map((n) => trigger(`hooks:send-${n}`, `send ${n}`)),
    });
    const sent = await cli(['hooks', 'github', '--data', body, '--event', 'pull_request']);
    expect(sent.err).toBe('');
    expect(sent.code).toBe(0);
    expect(sent.out).toContain(`POST ${gw().url}/hooks/hooks/github (github, event pull_request`);
    expect(sent.out).toContain('HTTP 202 Accepted');
    expect(sent.out).toMatch(/delivery \S+ done after 1 attempt\(s\)/);
    const tasks = /tasks {4}(.*)/.exec(sent.out)![1]!.split(', ');
    expect(tasks).toHaveLength(3);
    for (const t of tasks) expect(t).toMatch(/^[0-9a-f-]{36} \(pending\)$/);
    const row = await stored(deliveryOf(sent.out));
    expect(row.headers['x-github-event']).toBe('pull_request');
    expect(row.body).toBe(body);
    expect(row.headers).not.toHaveProperty('x-hub-signature-256');
  });

  it('standard, slack and github defaults: the event where the scheme carries it', async () => {
    const standard = await cli(['hooks', 'standard']);
    expect(standard.code).toBe(0);
    expect(standard.out).toMatch(/delivery \S+ ignored after 1 attempt\(s\)/);
    expect(JSON.parse((await stored(deliveryOf(standard.out))).body)).toMatchObject({
      type: 'switchboard.test',
      data: { id: expect.any(String) },
    });

    // Slack dedupes on the body's hash: a fresh body per run, from a file.
    const file = path.join(tmp, 'slack.json');
    fs.writeFileSync(file, JSON.stringify({ type: 'event_callback', n: Math.random() }));
    const slack = await cli(['hooks', 'slack', '--file', file]);
    expect(slack.code).toBe(0);
    expect(slack.out).toMatch(/delivery \S+ ignored/);
    expect((await stored(deliveryOf(slack.out))).body).toBe(fs.readFileSync(file, 'utf8'));

    // Two default github sends: each body is new (github dedupes on the body's hash).
    for (let i = 0; i < 2; i++) {
      const github = await cli(['hooks', 'github']);
      expect(github.code).toBe(0);
      const row = await stored(deliveryOf(github.out));
      expect(row.headers['x-github-event']).toBe('ping');
      expect(JSON.parse(row.body).zen).toMatch(/^switchboard webhook send /);
    }
    // The same explicit body twice: the second is a duplicate, exit 1 saying why.
    const same = JSON.stringify({ same: Math.random() });
    expect((await cli(['hooks', 'github', '--data', same])).code).toBe(0);
    const again = await cli(['hooks', 'github', '--data', same]);
    expect(again.code).toBe(1);
    expect(again.err).toContain("deduplicate on the body's hash");

    const unsigned = await cli(['hooks', 'open', '--event', 'custom.event']);
    expect(unsigned.code).toBe(0);
    expect(JSON.parse((await stored(deliveryOf(unsigned.out))).body).type).toBe('custom.event');
  });

  it("sync: prints the handler's own response, then the delivery", async () => {
    const body = JSON.stringify({ response: { status: 200, body: { pong: 'sync answer' } } });
    const sent = await cli(['hooks', 'sync', '--data', body]);
    expect(sent.code).toBe(0);
    expect(sent.out).toContain('HTTP 200 OK');
    expect(sent.out).toContain('{"pong":"sync answer"}');
    expect(sent.out).toMatch(/delivery \S+ ignored after 1 attempt\(s\)/);
  });

  it('exit 1 on a failed delivery and on a refusal (413); --no-wait does not wait', async () => {
    const failed = await cli(['hooks', 'github', '--data', '{"invalid":true}']);
    expect(failed.code).toBe(1);
    expect(failed.out).toMatch(/delivery \S+ failed after 1 attempt\(s\): /);

    const big = await cli(['hooks', 'small', '--data', JSON.stringify({ pad: 'x'.repeat(2000) })]);
    expect(big.code).toBe(1);
    expect(big.out).toContain('HTTP 413');

    const quick = await cli(['hooks', 'github', '--no-wait']);
    expect(quick.code).toBe(0);
    expect(quick.out).toContain('HTTP 202');
    expect(quick.out).not.toContain('delivery ');
  });

  it('clear errors: unknown integration or endpoint (listing the known), no secret, bad input', async () => {
    const noIntegration = await cli(['nope', 'events']);
    expect(noIntegration.code).toBe(1);
    expect(noIntegration.err).toContain('no integration named "nope" (known: hooks, refused)');

    const noEndpoint = await cli(['hooks', 'nope']);
    expect(noEndpoint.code).toBe(1);
    expect(noEndpoint.err).toContain(
      'integration hooks has no webhook "nope" (its webhooks: standard, github, slack, open, sync, small)',
    );

    const noSecret = await cli(['refused', 'events']);
    expect(noSecret.code).toBe(1);
    expect(noSecret.err).toContain(
      'its secret setting REFUSED_SECRET has no value: set it with "switchboard integrations settings set refused REFUSED_SECRET --stdin"',
    );

    const eventInBody = await cli(['hooks', 'standard', '--data', '{}', '--event', 'x']);
    expect(eventInBody.code).toBe(2);
    expect(eventInBody.err).toContain('scheme standard carries the event in the body');

    const notJson = await cli(['hooks', 'github', '--data', '{nope']);
    expect(notJson.code).toBe(2);
    expect(notJson.err).toContain('the body is not valid JSON');

    const noKey = await cli(['hooks', 'github'], { SWITCHBOARD_API_KEY: '' });
    expect(noKey.code).toBe(2);
    expect(noKey.err).toContain('set SWITCHBOARD_API_KEY');
  });
});
