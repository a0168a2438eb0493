/**
 * Issue 6, webhooks: POST /hooks/<integration>/<endpoint> verifies the signature on the raw
 * bytes, commits the delivery, then answers 202; a repeated delivery id is answered
 * 200 {"duplicate": true} and processed once; each refusal (bad signature, stale timestamp,
 * missing secret, over the cap, malformed JSON) is a clear error with nothing stored. The worker
 * calls the handler and turns each trigger into session + message + task; handler failures are
 * retried and then marked failed; sync mode answers with the handler's own response.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, REPO_ROOT, runSwitchboard, useTestGateway } from '../helpers/gateway.ts';
import { githubHeaders, slackHeaders, standardHeaders } from '../helpers/webhooks.ts';

const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/webhooks');
const GITHUB_SECRET = 'test-github-secret';
const SLACK_SECRET = 'test-slack-secret';
const STANDARD_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

const trigger = (key: string, message = 'hello') => ({
  session: { key, dispatch: { type: 'none' } },
  message,
  run: true,
});

describe('webhook ingest (issue 6)', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: FIXTURES,
    SWITCHBOARD_POLICY: path.join(FIXTURES, 'policy.yaml'),
  });

  const post = (endpoint: string, body: string, headers: Record<string, string>) =>
    fetch(`${gw().url}/hooks/${endpoint}`, { method: 'POST', headers, body });

  const rows = (deliveryId: string) =>
    gw().sql<
      { id: string; status: string; attempts: number; error: string | null; result: unknown }[]
    >`
      select id::text, status, attempts, error, result from webhook_deliveries
       where delivery_id = ${deliveryId}`;

  async function settled(deliveryId: string, timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [row] = await rows(deliveryId);
      if (row && ['done', 'ignored', 'failed'].includes(row.status)) return row;
      if (Date.now() > deadline)
        throw new Error(
          `delivery ${deliveryId}: ${JSON.stringify(row)}\n${gw()
            .logs.lines.filter((l) => String(l.msg).includes('deliver'))
            .map((l) => JSON.stringify(l))
            .slice(-5)
            .join('\n')}`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('github scheme: a signed delivery is committed, answered 202, and becomes session + message + task', async () => {
    const id = randomUUID();
    const body = JSON.stringify({ triggers: [trigger('hooks:acme/api#1', 'PR #1 opened')] });
    const res = await post('hooks/github', body, githubHeaders(GITHUB_SECRET, body, id));
    expect(res.status).toBe(202);
    const answer = (await res.json()) as { accepted: boolean; deliveryId: string; id: string };
    expect(answer).toMatchObject({ accepted: true, deliveryId: id });
    const row = await settled(id);
    expect(row.status).toBe('done');
    const [task] = await gw().sql<
      { status: string; prompt: string; profile: string; key: string }[]
    >`
      select t.status, t.prompt, t.profile, s.key from tasks t join sessions s on s.id = t.session_id
       where t.delivery_id = ${answer.id}`;
    expect(task).toEqual({
      status: 'pending',
      prompt: 'PR #1 opened',
      profile: 'held',
      key: 'hooks:acme/api#1',
    });
    const [message] = await gw().sql<{ role: string; content: string }[]>`
      select m.role, m.content from messages m join sessions s on s.id = m.session_id
       where s.key = 'hooks:acme/api#1'`;
    expect(message).toEqual({ role: 'integration', content: 'PR #1 opened' });
    // Stored headers keep the event and the delivery id, never the signature.
    const [stored] = await gw().sql<{ headers: Record<string, string> }[]>`
      select headers from webhook_deliveries where id = ${answer.id}`;
    expect(stored!.headers['x-github-delivery']).toBe(id);
    expect(stored!.headers).not.toHaveProperty('x-hub-signature-256');
  });

  it('a repeated delivery id is answered 200 {"duplicate": true} and processed once', async () => {
    const id = randomUUID();
    const body = JSON.stringify({ triggers: [trigger(`hooks:dup-${id}`)] });
    const headers = githubHeaders(GITHUB_SECRET, body, id);
    expect((await post('hooks/github', body, headers)).status).toBe(202);
    const again = await post('hooks/github', body, headers);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ duplicate: true, deliveryId: id });
    await settled(id);
    expect(await rows(id)).toHaveLength(1);
    const [count] = await gw().sql<{ n: number }[]>`
      select count(*)::int as n from tasks t join sessions s on s.id = t.session_id
       where s.key = ${`hooks:dup-${id}`}`;
    expect(count!.n).toBe(1);
  });

  it('standard and slack schemes verify; none is accepted where the policy grants webhooks.unsigned', async () => {
    const sid = `msg_${randomUUID()}`;
    const sbody = JSON.stringify({ triggers: [] });
    expect(
      (await post('hooks/standard', sbody, standardHeaders(STANDARD_SECRET, sbody, sid))).status,
    ).toBe(202);
    expect((await settled(sid)).status).toBe('ignored');

    const slackBody = JSON.stringify({ triggers: [], n: randomUUID() });
    const res = await post('hooks/slack', slackBody, slackHeaders(SLACK_SECRET, slackBody));
    expect(res.status).toBe(202);
    const { deliveryId } = (await res.json()) as { deliveryId: string };
    // Slack sends no delivery id: a hash of the body stands in (a Slack retry resends the bytes).
    expect(deliveryId).toMatch(/^sha256:[0-9a-f]{64}$/);
    const retry = await post('hooks/slack', slackBody, slackHeaders(SLACK_SECRET, slackBody));
    expect(await retry.json()).toMatchObject({ duplicate: true });

    const open = await post('hooks/open', '{}', {
      'content-type': 'application/json',
      'idempotency-key': 'open-1',
    });
    expect(open.status).toBe(202);
  });

  describe('refusals store nothing', () => {
    const count = async () =>
      (await gw().sql<{ n: number }[]>`select count(*)::int as n from webhook_deliveries`)[0]!.n;

    it.each([
      [
        'bad github signature',
        'hooks/github',
        () => ({ ...githubHeaders('wrong-secret', '{}', randomUUID()) }),
        '{}',
        401,
        'signature_invalid',
      ],
      [
        'missing signature',
        'hooks/github',
        () => ({ 'content-type': 'application/json' }),
        '{}',
        401,
        'signature_missing',
      ],
      [
        'stale slack timestamp (6 minutes)',
        'hooks/slack',
        () => slackHeaders(SLACK_SECRET, '{}', Math.floor(Date.now() / 1000) - 360),
        '{}',
        401,
        'timestamp_stale',
      ],
      [
        'stale standard timestamp',
        'hooks/standard',
        () => standardHeaders(STANDARD_SECRET, '{}', 'msg_old', new Date(Date.now() - 6 * 60_000)),
        '{}',
        401,
        'timestamp_stale',
      ],
      [
        'standard signature over other bytes',
        'hooks/standard',
        () => standardHeaders(STANDARD_SECRET, '{"a":1}', 'msg_x'),
        '{"a":2}',
        401,
        'signature_invalid',
      ],
      [
        'malformed JSON (signed)',
        'hooks/github',
        () => githubHeaders(GITHUB_SECRET, '{"triggers": [', randomUUID()),
        '{"triggers": [',
        400,
        'invalid_json',
      ],
      [
        'body over the manifest cap (1 KiB)',
        'hooks/small',
        () => githubHeaders(GITHUB_SECRET, JSON.stringify({ pad: 'x'.repeat(2000) }), randomUUID()),
        JSON.stringify({ pad: 'x'.repeat(2000) }),
        413,
        'payload_too_large',
      ],
      [
        'missing secret: the integration is refused, its webhook fails closed',
        'refused/events',
        () => githubHeaders('any-secret', '{}', randomUUID()),
        '{}',
        503,
        'integration_unavailable',
      ],
      ['unknown endpoint', 'hooks/nope', () => ({}), '{}', 404, 'webhook_unknown'],
    ])('%s → %i %s', async (_name, endpoint, headers, body, status, code) => {
      const before = await count();
      const res = await post(endpoint, body, headers());
      expect(res.status).toBe(status);
      const answer = (await res.json()) as { error: { code: string; message: string } };
      expect(answer.error.code).toBe(code);
      expect(answer.error.message.length).toBeGreaterThan(10);
      expect(await count()).toBe(before);
    });

    it('a chunked body over the default 1 MiB cap is cut off with 413', async () => {
      const before = await count();
      const big = 'x'.repeat(1024 * 1024 + 10);
      const stream = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(big));
          controller.close();
        },
      });
      const res = await fetch(`${gw().url}/hooks/hooks/github`, {
        method: 'POST',
        headers: githubHeaders(GITHUB_SECRET, big, randomUUID()),
        body: stream,
        duplex: 'half',
      } as RequestInit);
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({
        error: {
          code: 'payload_too_large',
          limit: 1048576,
          message: 'webhook body is larger than 1048576 bytes',
        },
      });
      expect(await count()).toBe(before);
    });
  });

  it('handler failures are retried with backoff, then the delivery is done; a broken result fails at once', async () => {
    const id = randomUUID();
    const body = JSON.stringify({ failTimes: 1, triggers: [trigger(`hooks:retry-${id}`)] });
    expect((await post('hooks/github', body, githubHeaders(GITHUB_SECRET, body, id))).status).toBe(
      202,
    );
    const row = await settled(id);
    expect(row).toMatchObject({ status: 'done', attempts: 2 });

    const bad = randomUUID();
    const badBody = JSON.stringify({ invalid: true });
    await post('hooks/github', badBody, githubHeaders(GITHUB_SECRET, badBody, bad));
    const failed = await settled(bad);
    expect(failed.status).toBe('failed');
    expect(failed.attempts).toBe(1);
    expect(failed.error).toContain('invalid handler result at triggers.0');
  });

  it('a trigger may only write into its own integration’s sessions', async () => {
    const id = randomUUID();
    const body = JSON.stringify({ triggers: [trigger('chat:general')] });
    await post('hooks/github', body, githubHeaders(GITHUB_SECRET, body, id));
    const row = await settled(id);
    expect(row.status).toBe('failed');
    expect(row.error).toContain('must start with "hooks:"');

    // Nor dispatch its results through another integration's dispatcher or into its sessions.
    for (const [dispatch, message] of [
      [{ type: 'chat', config: {} }, '"chat" is neither a dispatcher of hooks'],
      [{ type: 'internal', config: { session: 'chat:general' } }, 'config.session must be'],
    ] as const) {
      const other = randomUUID();
      const otherBody = JSON.stringify({
        triggers: [{ session: { key: `hooks:d-${other}`, dispatch }, message: 'x' }],
      });
      await post('hooks/github', otherBody, githubHeaders(GITHUB_SECRET, otherBody, other));
      const failed = await settled(other);
      expect(failed.status).toBe('failed');
      expect(failed.error).toContain(message);
    }
  });

  it('a trigger’s task runs with its own profile, else the integration’s; an unknown one fails the delivery', async () => {
    const id = randomUUID();
    const body = JSON.stringify({
      triggers: [
        { session: { key: `hooks:p-${id}` }, message: 'x', execution: { profile: 'nope' } },
      ],
    });
    await post('hooks/github', body, githubHeaders(GITHUB_SECRET, body, id));
    const row = await settled(id);
    expect(row.status).toBe('failed');
    expect(row.error).toContain('no profile "nope" in the policy (known: held)');
    // Rolled back whole: no session, message or task of that trigger remains.
    const [left] = await gw().sql<{ n: number }[]>`
      select count(*)::int as n from sessions where key = ${`hooks:p-${id}`}`;
    expect(left!.n).toBe(0);

    const ok = randomUUID();
    const okBody = JSON.stringify({
      triggers: [
        { session: { key: `hooks:p-${ok}` }, message: 'y', run: false },
        { session: { key: `hooks:p-${ok}` }, message: 'z', execution: { preamble: 'P' } },
      ],
    });
    await post('hooks/github', okBody, githubHeaders(GITHUB_SECRET, okBody, ok));
    expect((await settled(ok)).status).toBe('done');
    const tasks = await gw().sql<{ profile: string; prompt: string; execution: unknown }[]>`
      select t.profile, t.prompt, t.execution from tasks t join sessions s on s.id = t.session_id
       where s.key = ${`hooks:p-${ok}`}`;
    expect(tasks).toEqual([{ profile: 'held', prompt: 'z', execution: { preamble: 'P' } }]);
    const [messages] = await gw().sql<{ n: number }[]>`
      select count(*)::int as n from messages m join sessions s on s.id = m.session_id
       where s.key = ${`hooks:p-${ok}`}`;
    expect(messages!.n).toBe(2);
  });

  it('slow handler calls in flight do not hold back the next delivery', async () => {
    // 10 calls that take 4 s each occupy 10 of the worker's 16 slots; a delivery that comes
    // after them is claimed at once and done while they still run (no waiting for a chunk).
    const slow = Array.from({ length: 10 }, () => randomUUID());
    for (const id of slow) {
      const body = JSON.stringify({ sleepMs: 4_000, triggers: [], id });
      await post('hooks/github', body, githubHeaders(GITHUB_SECRET, body, id));
    }
    await expect
      .poll(
        async () =>
          (await Promise.all(slow.map((id) => rows(id))))
            .flat()
            .filter((r) => r.status === 'processing').length,
      )
      .toBe(10);
    const fast = randomUUID();
    const body = JSON.stringify({ triggers: [trigger(`hooks:fast-${fast}`)] });
    await post('hooks/github', body, githubHeaders(GITHUB_SECRET, body, fast));
    expect((await settled(fast)).status).toBe('done');
    const still = (await Promise.all(slow.map((id) => rows(id)))).flat();
    expect(still.filter((r) => r.status === 'processing').length).toBeGreaterThan(0);
    for (const id of slow) expect((await settled(id, 20_000)).status).toBe('ignored');
  });

  it('sync mode: the handler’s response is the HTTP answer; a slow handler is deferred with 202', async () => {
    const id = randomUUID();
    const body = JSON.stringify({
      response: {
        status: 200,
        body: { challenge: 'abc' },
        headers: { 'x-ok': '1', 'set-cookie': 'a=b', connection: 'close' },
      },
    });
    const res = await post('hooks/sync', body, githubHeaders(GITHUB_SECRET, body, id));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ challenge: 'abc' });
    // Only allow-listed headers of the handler's answer are sent (test/security/webhooks.test.ts).
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('x-ok')).toBeNull();
    expect(res.headers.get('set-cookie')).toBeNull();
    expect((await rows(id))[0]!.status).toBe('ignored');

    const slow = randomUUID();
    const slowBody = JSON.stringify({ sleepMs: 3_000, triggers: [trigger(`hooks:slow-${slow}`)] });
    const deferred = await post(
      'hooks/sync',
      slowBody,
      githubHeaders(GITHUB_SECRET, slowBody, slow),
    );
    expect(deferred.status).toBe(202);
    expect(await deferred.json()).toMatchObject({ accepted: true, deferred: true });
    // The worker retries it; the second call answers (after its sleep) and the task exists.
    const row = await settled(slow, 20_000);
    expect(row.status).toBe('done');
  }, 30_000);

  it('a replay takes the next free <id>:replay:<n>, past ids a sender took, and the handler receives it', async () => {
    const id = randomUUID();
    const session = `hooks:echo-${id}`;
    const body = JSON.stringify({ echo: session });
    const first = await post('hooks/github', body, githubHeaders(GITHUB_SECRET, body, id));
    const { id: rowId } = (await first.json()) as { id: string };
    await settled(id);
    // Senders' own deliveries whose ids look like this one's first two replays.
    const squat = await post('hooks/open', '{}', {
      'content-type': 'application/json',
      'idempotency-key': `${id}:replay:1`,
    });
    expect(squat.status).toBe(202);
    const other = JSON.stringify({ triggers: [], n: 2 });
    const squat2 = await post(
      'hooks/github',
      other,
      githubHeaders(GITHUB_SECRET, other, `${id}:replay:2`),
    );
    expect(squat2.status).toBe(202);

    const replay = async () => {
      const res = await fetch(`${gw().url}/api/v1/deliveries/${rowId}/replay`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      });
      return {
        status: res.status,
        body: (await res.json()) as { delivery: { deliveryId: string; replayOf: string } },
      };
    };
    const third = await replay();
    expect(third.status).toBe(201);
    expect(third.body.delivery).toMatchObject({ deliveryId: `${id}:replay:3`, replayOf: rowId });
    await settled(`${id}:replay:3`);
    const fourth = await replay();
    expect(fourth.body.delivery).toMatchObject({ deliveryId: `${id}:replay:4`, replayOf: rowId });
    await settled(`${id}:replay:4`);

    // The handler was called with the original's id, then with each replay's own.
    const messages = await gw().sql<{ content: string }[]>`
      select m.content from messages m join sessions s on s.id = m.session_id
       where s.key = ${session} order by m.created_at, m.content`;
    expect(messages.map((m) => m.content)).toEqual([
      `delivery ${id}`,
      `delivery ${id}:replay:3`,
      `delivery ${id}:replay:4`,
    ]);
  });

  it('GET /api/v1/deliveries/:id hides secret-looking header values a sender added (the row keeps them for the handler)', async () => {
    const id = randomUUID();
    const body = JSON.stringify({ triggers: [] });
    const sent = {
      ...githubHeaders(GITHUB_SECRET, body, id),
      'x-gitlab-token': 'glpat-not-for-display',
      'x-webhook-secret': 'shh-not-for-display',
      'x-sender-auth': 'basic-not-for-display',
      'x-request-id': 'req-visible',
    };
    const { id: rowId } = (await (await post('hooks/github', body, sent)).json()) as {
      id: string;
    };
    const res = await fetch(`${gw().url}/api/v1/deliveries/${rowId}`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    expect(text).not.toContain('not-for-display');
    const { headers } = (JSON.parse(text) as { delivery: { headers: Record<string, string> } })
      .delivery;
    expect(headers).toMatchObject({
      'x-gitlab-token': '[hidden]',
      'x-webhook-secret': '[hidden]',
      'x-sender-auth': '[hidden]',
      'x-request-id': 'req-visible',
      'x-github-delivery': id,
    });
    expect(headers).not.toHaveProperty('x-hub-signature-256');
    const [stored] = await gw().sql<{ headers: Record<string, string> }[]>`
      select headers from webhook_deliveries where id = ${rowId}`;
    expect(stored!.headers['x-gitlab-token']).toBe('glpat-not-for-display');
  });

  it('GET /api/v1/deliveries filters; /:id shows status, headers, tasks; replay queues a copy processed anew', async () => {
    const id = randomUUID();
    const body = JSON.stringify({ triggers: [trigger(`hooks:api-${id}`)] });
    const { id: rowId } = (await (
      await post('hooks/github', body, githubHeaders(GITHUB_SECRET, body, id))
    ).json()) as { id: string };
    await settled(id);
    const auth = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
    const api = (route: string, init: RequestInit = {}) =>
      fetch(`${gw().url}/api/v1${route}`, { ...init, headers: auth });

    const list = (await (
      await api('/deliveries?integration=hooks&status=done&limit=500')
    ).json()) as {
      deliveries: Array<{ id: string; status: string }>;
    };
    expect(list.deliveries.some((d) => d.id === rowId)).toBe(true);
    expect(list.deliveries.every((d) => d.status === 'done')).toBe(true);
    const bad = await api('/deliveries?status=nope');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      error: { code: 'invalid_request', issues: [expect.objectContaining({ path: 'status' })] },
    });

    const shown = (await (await api(`/deliveries/${rowId}`)).json()) as {
      delivery: {
        status: string;
        body: string;
        tasks: Array<{ id: string }>;
        headers: Record<string, string>;
      };
    };
    expect(shown.delivery.status).toBe('done');
    expect(shown.delivery.body).toBe(body);
    expect(shown.delivery.tasks).toHaveLength(1);
    expect(shown.delivery.headers).not.toHaveProperty('x-hub-signature-256');

    const replay = await api(`/deliveries/${rowId}/replay`, { method: 'POST' });
    expect(replay.status).toBe(201);
    const { delivery: copy } = (await replay.json()) as {
      delivery: { id: string; deliveryId: string; replayOf: string };
    };
    expect(copy).toMatchObject({ deliveryId: `${id}:replay:1`, replayOf: rowId });
    await settled(copy.deliveryId);
    const [{ n }] = (await gw().sql<{ n: number }[]>`
      select count(*)::int as n from tasks where delivery_id in (${rowId}, ${copy.id})`) as unknown as [
      { n: number },
    ];
    expect(n).toBe(2);
    const missing = await api('/deliveries/not-a-uuid');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({
      error: { code: 'not_found', message: 'no delivery "not-a-uuid"' },
    });

    // The CLI over the same API.
    const env = { SWITCHBOARD_URL: gw().url, SWITCHBOARD_API_KEY: ADMIN_KEY };
    const listed = await runSwitchboard(['deliveries', 'list', '--integration', 'hooks'], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(rowId);
    const show = await runSwitchboard(['deliveries', 'show', rowId], env);
    expect(show.stdout).toContain('status      done after 1 attempt(s)');
    const again = await runSwitchboard(['deliveries', 'replay', rowId], env);
    expect(again.stdout).toContain(`${id}:replay:2`);
  }, 30_000);
});
