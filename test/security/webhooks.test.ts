/**
 * Attacks on POST /hooks/<integration>/<endpoint> from anyone on the internet, or from someone
 * who captured one signed request: replaying it under new delivery ids (GitHub's
 * X-GitHub-Delivery is not signed; Idempotency-Key is the sender's choice), flooding an
 * endpoint, and a handler's sync answer planting headers on the gateway's origin.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';
import { githubHeaders, slackHeaders, standardHeaders } from '../helpers/webhooks.ts';

const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/webhooks');
const GITHUB_SECRET = 'test-github-secret';
const SLACK_SECRET = 'test-slack-secret';
const STANDARD_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

// The webhook fixtures' policy with the ingress limits left at their defaults (the fixtures'
// own policy raises them for the bench); `ingress` sets integrations.hooks.webhooks.
const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-webhook-attacks-'));
const POLICY = path.join(DIR, 'policy.yaml');
const writePolicy = (ingress = '{ unsigned: true }') =>
  fs.writeFileSync(
    POLICY,
    `apiVersion: switchboard/policy/v1
integrations:
  hooks:
    enabled: true
    grants: [webhooks, sessions.write]
    webhooks: ${ingress}
    profile: held
    settings:
      STANDARD_SECRET: ${STANDARD_SECRET}
      GITHUB_SECRET: ${GITHUB_SECRET}
      SLACK_SECRET: ${SLACK_SECRET}
profiles:
  held:
    runner: { driver: process, command: "true", args: ["{held_for_the_webhook_tests}"] }
    tools: ["hooks:*"]
`,
  );
writePolicy();
afterAll(() => fs.rmSync(DIR, { recursive: true, force: true }));

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & { error?: { code: string; message: string } };
}

describe('webhook attacks', () => {
  const gw = useTestGateway({ INTEGRATION_DIRS: FIXTURES, SWITCHBOARD_POLICY: POLICY });

  const post = async (
    endpoint: string,
    body: string,
    headers: Record<string, string>,
  ): Promise<Answer> => {
    const res = await fetch(`${gw().url}/hooks/hooks/${endpoint}`, {
      method: 'POST',
      headers,
      body,
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : {} };
  };

  /** Rows stored with exactly this body (whatever their delivery ids). */
  const storedWithBody = async (body: string) =>
    (
      await gw().sql<{ n: number }[]>`
        select count(*)::int as n from webhook_deliveries where body = ${Buffer.from(body)}`
    )[0]!.n;

  const tasksIn = async (sessionKey: string) =>
    (
      await gw().sql<{ n: number }[]>`
        select count(*)::int as n from tasks t join sessions s on s.id = t.session_id
         where s.key = ${sessionKey}`
    )[0]!.n;

  const startsTask = (key: string) =>
    JSON.stringify({
      triggers: [{ session: { key, dispatch: { type: 'none' } }, message: 'go', run: true }],
    });

  describe('replays of one signed request', () => {
    it('github: the same signed body under 3 delivery ids and Idempotency-Keys is stored once and starts one task', async () => {
      const key = `hooks:replay-${randomUUID()}`;
      const body = startsTask(key);
      const answers: Answer[] = [];
      for (const n of [1, 2, 3]) {
        answers.push(
          await post('github', body, {
            ...githubHeaders(GITHUB_SECRET, body, randomUUID()),
            'idempotency-key': `attempt-${n}-${randomUUID()}`,
          }),
        );
      }
      expect(answers.map((a) => a.status)).toEqual([202, 200, 200]);
      expect(answers[1]!.body).toMatchObject({ duplicate: true });
      expect(answers[2]!.body).toMatchObject({ duplicate: true });
      expect(await storedWithBody(body)).toBe(1);
      await expect.poll(() => tasksIn(key), { timeout: 15_000 }).toBe(1);
    });

    it('github: a request without X-GitHub-Delivery is refused 400 and stores nothing', async () => {
      const body = startsTask(`hooks:no-id-${randomUUID()}`);
      const { 'x-github-delivery': _dropped, ...headers } = githubHeaders(GITHUB_SECRET, body, 'x');
      const answer = await post('github', body, { ...headers, 'idempotency-key': randomUUID() });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({
        code: 'delivery_id_missing',
        message: expect.stringContaining('X-GitHub-Delivery'),
      });
      expect(await storedWithBody(body)).toBe(0);
    });

    it('slack: the same timestamp and body twice, with different Idempotency-Keys, is stored once', async () => {
      const body = JSON.stringify({ triggers: [], n: randomUUID() });
      const ts = Math.floor(Date.now() / 1000);
      const first = await post('slack', body, {
        ...slackHeaders(SLACK_SECRET, body, ts),
        'idempotency-key': randomUUID(),
      });
      const again = await post('slack', body, {
        ...slackHeaders(SLACK_SECRET, body, ts),
        'idempotency-key': randomUUID(),
      });
      expect([first.status, again.status]).toEqual([202, 200]);
      expect(again.body).toMatchObject({ duplicate: true, deliveryId: first.body.deliveryId });
      expect(await storedWithBody(body)).toBe(1);
    });

    it('standard: the signed webhook-id wins over an Idempotency-Key', async () => {
      const body = JSON.stringify({ triggers: [], n: randomUUID() });
      const id = `msg_${randomUUID()}`;
      const first = await post('standard', body, {
        ...standardHeaders(STANDARD_SECRET, body, id),
        'idempotency-key': randomUUID(),
      });
      const again = await post('standard', body, {
        ...standardHeaders(STANDARD_SECRET, body, id),
        'idempotency-key': randomUUID(),
      });
      expect([first.status, again.status]).toEqual([202, 200]);
      expect(first.body).toMatchObject({ deliveryId: id });
      expect(await storedWithBody(body)).toBe(1);
    });
  });

  describe('sync answers', () => {
    it('only allow-listed headers of a handler’s response reach the sender, always with nosniff', async () => {
      const body = JSON.stringify({
        response: {
          status: 200,
          body: 'challenge-accepted',
          headers: {
            'Content-Type': 'text/plain; charset=utf-8',
            'Set-Cookie': 'session=planted; Path=/',
            Connection: 'close',
            'Keep-Alive': 'timeout=600',
            Upgrade: 'websocket',
            'X-Anything': 'arbitrary',
            'Access-Control-Allow-Origin': '*',
            Location: 'https://evil.example.com/',
            'X-Content-Type-Options': 'none',
          },
        },
      });
      const res = await fetch(`${gw().url}/hooks/hooks/sync`, {
        method: 'POST',
        headers: githubHeaders(GITHUB_SECRET, body, randomUUID()),
        body,
      });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('challenge-accepted');
      expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
      const leaked = [
        'set-cookie',
        'upgrade',
        'x-anything',
        'access-control-allow-origin',
        'location',
      ].filter((name) => res.headers.get(name) !== null);
      expect(leaked).toEqual([]);
      // Node answers keep-alive connections with its own Connection and Keep-Alive headers.
      expect(res.headers.get('connection')).toBe('keep-alive');
      expect(res.headers.get('keep-alive')).not.toContain('600');
    });

    it('the gateway’s own answers and refusals carry nosniff too', async () => {
      const body = JSON.stringify({ triggers: [] });
      const accepted = await post('github', body, githubHeaders(GITHUB_SECRET, body, randomUUID()));
      const forged = await post('github', body, githubHeaders('wrong', body, randomUUID()));
      expect([accepted.status, forged.status]).toEqual([202, 401]);
      expect(accepted.headers.get('x-content-type-options')).toBe('nosniff');
      expect(forged.headers.get('x-content-type-options')).toBe('nosniff');
    });
  });

  describe('ingress limits', () => {
    const open = (n: number) =>
      post('open', JSON.stringify({ n }), {
        'content-type': 'application/json',
        'idempotency-key': `flood-${randomUUID()}`,
      });
    const openRows = async () =>
      (
        await gw().sql<{ n: number }[]>`
          select count(*)::int as n from webhook_deliveries
           where endpoint = 'open' and delivery_id like 'flood-%'`
      )[0]!.n;

    it('an unsigned endpoint takes 60 a minute by default, then 429 with Retry-After; a signed one of the same integration still accepts', async () => {
      const statuses: number[] = [];
      let refused: Answer | undefined;
      // The bucket refills at 1/s; 200 requests take far less than the 140 s that would hide it.
      for (let n = 0; n < 200 && !refused; n++) {
        const answer = await open(n);
        statuses.push(answer.status);
        if (answer.status === 429) refused = answer;
      }
      expect(refused?.body.error).toMatchObject({
        code: 'rate_limited',
        message: expect.stringContaining('60 requests a minute'),
      });
      expect(refused!.headers.get('retry-after')).toBe('1');
      const accepted = statuses.filter((s) => s === 202).length;
      expect(accepted).toBeGreaterThanOrEqual(60);
      expect(statuses.slice(0, 60)).toEqual(Array(60).fill(202));
      // The refused request was not stored.
      expect(await openRows()).toBe(accepted);

      const body = JSON.stringify({ triggers: [], n: randomUUID() });
      const signed = await post('github', body, githubHeaders(GITHUB_SECRET, body, randomUUID()));
      expect(signed.status).toBe(202);
    });

    it('the policy sets the limit; on a signed endpoint forged requests do not use it up', async () => {
      writePolicy('{ unsigned: true, requestsPerMinute: 3 }');
      expect((await gw().registry.reload('hooks'))?.state).toBe('ready');
      // Someone without the secret floods the endpoint: refused, and not counted.
      for (let n = 0; n < 10; n++) {
        const body = JSON.stringify({ n });
        expect(
          (
            await post(
              'standard',
              body,
              standardHeaders('whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', body, `msg_${n}`),
            )
          ).status,
        ).toBe(401);
      }
      const statuses: number[] = [];
      for (let n = 0; n < 4; n++) {
        const body = JSON.stringify({ triggers: [], n: randomUUID() });
        statuses.push(
          (
            await post(
              'standard',
              body,
              standardHeaders(STANDARD_SECRET, body, `msg_${randomUUID()}`),
            )
          ).status,
        );
      }
      expect(statuses).toEqual([202, 202, 202, 429]);
      const body = JSON.stringify({ triggers: [], n: randomUUID() });
      const last = await post(
        'standard',
        body,
        standardHeaders(STANDARD_SECRET, body, `msg_${randomUUID()}`),
      );
      expect(last.status).toBe(429);
      // 3 a minute: one every 20 s.
      expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(10);
      expect(Number(last.headers.get('retry-after'))).toBeLessThanOrEqual(20);
      expect(last.body.error).toMatchObject({
        code: 'rate_limited',
        message: expect.stringContaining('3 requests a minute'),
      });
      expect(await storedWithBody(body)).toBe(0);
    });
  });
});
