import path from 'node:path';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { apiRouter } from '../../gateway/src/api/router.ts';
import { insertTaskEvent } from '../../gateway/src/events/store.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { claimTasks } from '../../gateway/src/tasks/queue.ts';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';
import { collect, openSse } from '../helpers/sse.ts';

// The tasks and sessions API (issue 5) against a real gateway and database. No worker runs in
// this branch, so tasks stay pending unless a test claims them with the queue's claimTasks (as
// the worker will) or writes their events with the event store's functions.
const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/integrations');
const POLICY = path.join(REPO_ROOT, 'test/fixtures/tasks-api/policy.yaml');

// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; the API validates them
type Json = Record<string, any>;

describe('tasks and sessions API', () => {
  const gw = useTestGateway({ INTEGRATION_DIRS: FIXTURES, SWITCHBOARD_POLICY: POLICY });
  const auth = { authorization: `Bearer ${ADMIN_KEY}` };
  const api = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${gw().url}/api/v1${route}`, {
      method,
      headers: { ...auth, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Json };
  };
  const issuePaths = (json: Json) =>
    (json.error.issues as Array<{ path: string }>).map((i) => i.path);

  it('enqueues a pending task; the same idempotency key answers the same task with 200', async () => {
    const body = { prompt: 'review PR 1', profile: 'reviewer', idempotencyKey: 'pr-1' };
    const first = await api('POST', '/tasks', body);
    expect(first.status, JSON.stringify(first.json)).toBe(201);
    expect(first.json.task).toMatchObject({
      status: 'pending',
      profile: 'reviewer',
      scope: ['echo:*', 'switchboard:*'],
      timeoutMs: 20 * 60_000,
      attempts: 0,
      reason: null,
      external: false,
    });
    const again = await api('POST', '/tasks', { ...body, prompt: 'ignored' });
    expect(again.status).toBe(200);
    expect(again.json.task.id).toBe(first.json.task.id);
    expect(again.json.task.prompt).toBe('review PR 1');
    const got = await api('GET', `/tasks/${first.json.task.id}`);
    expect(got.json.task).toMatchObject({ id: first.json.task.id, status: 'pending' });
  });

  it('creates or gets the session named by key, with the profile as its default', async () => {
    const a = await api('POST', '/tasks', {
      prompt: 'x',
      profile: 'scripted',
      session: 'gh:acme/a',
    });
    const b = await api('POST', '/tasks', { prompt: 'y', session: 'gh:acme/a', timeout: '90s' });
    expect(b.status, JSON.stringify(b.json)).toBe(201);
    expect(b.json.task).toMatchObject({ sessionId: a.json.task.sessionId, profile: 'scripted' });
    expect(b.json.task.timeoutMs).toBe(90_000);
    const byId = await api('POST', '/tasks', { prompt: 'z', session: a.json.task.sessionId });
    expect(byId.json.task.sessionId).toBe(a.json.task.sessionId);
  });

  it('answers 400 naming each bad field', async () => {
    const cases: Array<[unknown, string[]]> = [
      [{ profile: 'scripted' }, ['prompt']],
      [{ prompt: 'p', profile: 'scripted', scope: ['github'] }, ['scope[0]']],
      [{ prompt: 'p', profile: 'scripted', timeout: 'soon' }, ['timeout']],
      [{ prompt: 'p', profile: 'scripted', timeout: '48h' }, ['timeout']],
      [{ prompt: 'p', profile: 'scripted', colour: 'red' }, ['']],
      [{ prompt: 'p', profile: 'scripted', execution: { model: 7 } }, ['execution.model']],
      [{ prompt: 'p' }, ['profile']],
    ];
    for (const [body, paths] of cases) {
      const res = await api('POST', '/tasks', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(issuePaths(res.json), JSON.stringify(res.json)).toEqual(paths);
    }
    const long = await api('POST', '/tasks', { prompt: 'p', profile: 'scripted', timeout: '48h' });
    expect(long.json.error.message).toContain('expected at most 24h');
  });

  it('refuses an unknown profile naming the known ones, and a scope outside the profile', async () => {
    const unknown = await api('POST', '/tasks', { prompt: 'p', profile: 'nobody' });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.message).toBe(
      'invalid task: profile: no profile "nobody" in the policy (known: scripted, reviewer)',
    );
    const outside = await api('POST', '/tasks', {
      prompt: 'p',
      profile: 'reviewer',
      scope: ['echo:say', 'github:*'],
    });
    expect(outside.status).toBe(400);
    expect(issuePaths(outside.json)).toEqual(['scope[1]']);
    expect(outside.json.error.message).toContain('outside the tools of profile reviewer');
    const inside = await api('POST', '/tasks', {
      prompt: 'p',
      profile: 'reviewer',
      scope: ['echo:say'],
    });
    expect(inside.status).toBe(201);
    expect(inside.json.task.scope).toEqual(['echo:say']);
  });

  it('lists tasks newest first with filters and a cursor that misses nothing', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        (await api('POST', '/tasks', { prompt: `l${i}`, profile: 'scripted', session: 'list:one' }))
          .json.task.id,
      );
    }
    const session = (await api('GET', `/tasks/${ids[0]}`)).json.task.sessionId as string;
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { json: Json } = await api(
        'GET',
        `/tasks?session=${session}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...page.json.tasks.map((t: Json) => t.id));
      cursor = page.json.next;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    await api('POST', `/tasks/${ids[1]}/cancel`, {});
    const cancelled = await api('GET', `/tasks?session=${session}&status=cancelled`);
    expect(cancelled.json.tasks.map((t: Json) => t.id)).toEqual([ids[1]]);
    const both = await api('GET', `/tasks?session=${session}&status=pending,cancelled&limit=500`);
    expect(both.json.tasks).toHaveLength(5);
    const own = (await api('POST', '/tasks', { prompt: 'r', profile: 'reviewer' })).json.task.id;
    const reviewer = await api('GET', '/tasks?profile=reviewer&limit=500');
    const reviewerIds = reviewer.json.tasks.map((t: Json) => t.id);
    expect(reviewerIds).toContain(own);
    expect(reviewerIds).not.toContain(ids[0]);
    expect(reviewer.json.tasks.every((t: Json) => t.profile === 'reviewer')).toBe(true);
    const bad = await api('GET', '/tasks?status=done&limit=0');
    expect(bad.status).toBe(400);
    expect(issuePaths(bad.json).sort()).toEqual(['limit', 'status[0]']);
  });

  it('cancels a pending task once; its events end with task:cancelled', async () => {
    const { json } = await api('POST', '/tasks', { prompt: 'c', profile: 'scripted' });
    const cancel = await api('POST', `/tasks/${json.task.id}/cancel`, { reason: 'not needed' });
    expect(cancel.status).toBe(200);
    expect(cancel.json.task).toMatchObject({ status: 'cancelled', reason: 'cancelled' });
    expect(Date.parse(cancel.json.task.finishedAt)).toBeGreaterThanOrEqual(
      Date.parse(json.task.createdAt),
    );
    const again = await api('POST', `/tasks/${json.task.id}/cancel`, {});
    expect(again.status).toBe(409);
    expect(again.json.error).toMatchObject({
      code: 'task_ended',
      message: `task ${json.task.id} has already ended (cancelled)`,
    });
    const missing = await api('POST', '/tasks/00000000-0000-4000-8000-000000000000/cancel', {});
    expect(missing.status).toBe(404);
    expect(missing.json.error).toMatchObject({
      code: 'not_found',
      message: 'no task "00000000-0000-4000-8000-000000000000"',
    });
    const stream = await openSse(`${gw().url}/api/v1/tasks/${json.task.id}/events`, auth);
    const events = await collect(stream.events);
    expect(events.map((e) => e.event)).toEqual(['task:created', 'task:cancelled']);
  });

  it('streams events as SSE, resumes after Last-Event-ID with nothing missed or repeated, ends after the terminal event', async () => {
    const { json } = await api('POST', '/tasks', { prompt: 's', profile: 'scripted' });
    const id = json.task.id as string;
    const url = `${gw().url}/api/v1/tasks/${id}/events`;
    const first = await openSse(url, auth);
    expect(first.status).toBe(200);
    expect(first.contentType).toMatch(/^text\/event-stream/);
    const got: Array<{ id: string; event: string; data: Json }> = [];
    const take = async (
      events: AsyncGenerator<{ id?: string; event?: string; data: string }>,
      n: number,
    ) => {
      for (let i = 0; i < n; i++) {
        const next = await events.next();
        if (next.done) throw new Error('the stream ended early');
        got.push({
          id: next.value.id!,
          event: next.value.event!,
          data: JSON.parse(next.value.data),
        });
      }
    };
    await take(first.events, 1);
    // Written by the event store as the worker will write them, while the stream is open.
    for (const n of [1, 2])
      await insertTaskEvent(gw().sql, { taskId: id, type: 'task:progress', data: { n } });
    await take(first.events, 2);
    await first.events.return(undefined); // disconnect
    for (const n of [3, 4])
      await insertTaskEvent(gw().sql, { taskId: id, type: 'task:progress', data: { n } });
    const resumed = await openSse(url, { ...auth, 'last-event-id': got.at(-1)!.id });
    await take(resumed.events, 2);
    expect((await api('POST', `/tasks/${id}/cancel`, {})).status).toBe(200);
    const rest = await collect(resumed.events);
    for (const e of rest) got.push({ id: e.id!, event: e.event!, data: JSON.parse(e.data) });
    expect(got.map((e) => e.event)).toEqual([
      'task:created',
      'task:progress',
      'task:progress',
      'task:progress',
      'task:progress',
      'task:cancelled',
    ]);
    expect(got.slice(1, 5).map((e) => e.data.data.n)).toEqual([1, 2, 3, 4]);
    const seqs = got.map((e) => BigInt(e.id));
    expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!)).toBe(true);
    expect(got.every((e) => e.data.seq === e.id && e.data.taskId === id)).toBe(true);
    // ?after= resumes the same way on an ended task, and the stream ends by itself.
    const tail = await collect((await openSse(`${url}?after=${got[3]!.id}`, auth)).events);
    expect(tail.map((e) => e.id)).toEqual(got.slice(4).map((e) => e.id));
  });

  it('issues an agent config with fresh tokens for a running task only', async () => {
    const { json } = await api('POST', '/tasks', { prompt: 'cfg', profile: 'reviewer' });
    const pending = await api('POST', `/tasks/${json.task.id}/config`, { format: 'claude' });
    expect(pending.status).toBe(409);
    expect(pending.json.error).toMatchObject({
      code: 'task_not_running',
      message: expect.stringContaining(`task ${json.task.id} is pending`),
    });
    // The worker's claim, by the queue's own function: the task is running with a lease.
    const claimed = (
      await claimTasks(gw().sql, {
        profile: 'reviewer',
        owner: 'test',
        leaseMs: 60_000,
        concurrency: 100,
        limit: 100,
      })
    ).find((t) => t.id === json.task.id);
    expect(claimed).toMatchObject({ id: json.task.id, status: 'running', profile: 'reviewer' });
    const id = claimed!.id;
    // It mints credentials, so not on a GET (issue 12 item 11): 405 pointing at the POST.
    const before = await gw().sql<{ n: number }[]>`
      select count(*)::int as n from tokens where task_id = ${id}`;
    const get = await fetch(`${gw().url}/api/v1/tasks/${id}/config?format=claude`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(((await get.json()) as Json).error).toMatchObject({
      code: 'method_not_allowed',
      message: `GET is not allowed: a task config mints tokens, so it is POST /api/v1/tasks/${id}/config with {"format": "claude|codex|cursor|goose|json"}`,
    });
    const after = await gw().sql<{ n: number }[]>`
      select count(*)::int as n from tokens where task_id = ${id}`;
    expect(after[0]!.n).toBe(before[0]!.n);
    const config = await api('POST', `/tasks/${id}/config`, { format: 'claude' });
    expect(config.status, JSON.stringify(config.json)).toBe(200);
    expect(config.json).toMatchObject({ taskId: id, format: 'claude', path: '.mcp.json' });
    const servers = JSON.parse(config.json.content).mcpServers;
    expect(Object.keys(servers)).toEqual(['switchboard', 'echo']);
    const token = config.json.env.SWITCHBOARD_TOKEN as string;
    expect(await gw().tokens.verify(token, `${gw().url}/mcp`)).toMatchObject({ taskId: id });
    const audited = await api('GET', '/audit?action=tasks.config');
    expect(audited.json.entries).toEqual([expect.objectContaining({ target: id })]);
    const bad = await api('POST', `/tasks/${id}/config`, { format: 'vim' });
    expect(bad.status).toBe(400);
    expect(issuePaths(bad.json)).toEqual(['format']);
    await api('POST', `/tasks/${id}/cancel`, {});
    await expect(gw().tokens.verify(token, `${gw().url}/mcp`)).rejects.toMatchObject({
      code: 'invalid_token',
      message: 'the token has been revoked',
    });
  });

  it('config tokens live as long as the task, not the default TTL (issue 12 item 10)', async () => {
    const expiry = (json: Json) => new Date(json.expiresAt as string).getTime();
    // An external task granted for 30 minutes: its config's tokens expire with its grant.
    const granted = await api('POST', '/tasks', { external: true, scope: ['echo:*'], ttl: '30m' });
    expect(granted.status).toBe(201);
    const external = await api('POST', `/tasks/${granted.json.task.id}/config`, { format: 'json' });
    expect(external.status, JSON.stringify(external.json)).toBe(200);
    const grantExpiry = expiry(granted.json);
    expect(Math.abs(expiry(external.json) - grantExpiry)).toBeLessThanOrEqual(2_000);
    const exp = decodeJwt(external.json.env.SWITCHBOARD_TOKEN as string).exp! * 1000;
    expect(Math.abs(exp - grantExpiry)).toBeLessThanOrEqual(2_000);
    // A queued task of the reviewer profile (timeout 20m): its start + 20m + the 1-minute margin.
    const { json } = await api('POST', '/tasks', { prompt: 'ttl', profile: 'reviewer' });
    await claimTasks(gw().sql, {
      profile: 'reviewer',
      owner: 'test',
      leaseMs: 60_000,
      concurrency: 100,
      limit: 100,
    });
    const running = (await api('GET', `/tasks/${json.task.id}`)).json.task;
    expect(running.status).toBe('running');
    const queued = await api('POST', `/tasks/${json.task.id}/config`, { format: 'json' });
    expect(queued.status, JSON.stringify(queued.json)).toBe(200);
    const deadline = new Date(running.startedAt).getTime() + 21 * 60_000;
    expect(Math.abs(expiry(queued.json) - deadline)).toBeLessThanOrEqual(2_000);
    await api('POST', `/tasks/${json.task.id}/cancel`, {});
  });

  it('sessions: create-or-get by key, list by cursor, get, 404', async () => {
    const body = { key: 'chat:room-1', profile: 'scripted', dispatch: { type: 'none' } };
    const created = await api('POST', '/sessions', body);
    expect(created.status).toBe(201);
    expect(created.json.session).toMatchObject({ key: 'chat:room-1', profile: 'scripted' });
    const existing = await api('POST', '/sessions', { key: 'chat:room-1', profile: 'reviewer' });
    expect(existing.status).toBe(200);
    expect(existing.json.session).toMatchObject({
      id: created.json.session.id,
      profile: 'scripted',
    });
    expect(await api('POST', '/sessions', { key: 'x', profile: 'nobody' })).toMatchObject({
      status: 400,
      json: {
        error: {
          code: 'invalid_request',
          message: expect.stringContaining('no profile "nobody" in the policy'),
        },
      },
    });
    expect(issuePaths((await api('POST', '/sessions', {})).json)).toEqual(['key']);
    await api('POST', '/sessions', { key: 'chat:room-2' });
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { json: Json } = await api(
        'GET',
        `/sessions?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      ids.push(...page.json.sessions.map((s: Json) => s.id));
      cursor = page.json.next;
    } while (cursor);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain(created.json.session.id);
    const got = await api('GET', `/sessions/${created.json.session.id}`);
    expect(got.json.session.key).toBe('chat:room-1');
    expect(await api('GET', '/sessions/not-a-uuid')).toMatchObject({
      status: 404,
      json: { error: { code: 'not_found', message: 'no session "not-a-uuid"' } },
    });
  });

  it('messages: run_agent creates a task with the session profile; notify reaches the running task', async () => {
    const { json } = await api('POST', '/sessions', { key: 'chat:agent', profile: 'reviewer' });
    const sid = json.session.id as string;
    const posted = await api('POST', `/sessions/${sid}/messages`, {
      content: 'hello',
      run_agent: true,
    });
    expect(posted.status, JSON.stringify(posted.json)).toBe(201);
    expect(posted.json.message).toMatchObject({ role: 'user', content: 'hello', sessionId: sid });
    expect(posted.json.task).toMatchObject({
      status: 'pending',
      profile: 'reviewer',
      sessionId: sid,
      prompt: 'hello',
      messageId: posted.json.message.id,
    });
    const plain = await api('POST', `/sessions/${sid}/messages`, { content: 'just a note' });
    expect(plain.json.task).toBeNull();
    // Other tests' reviewer tasks may be pending too: this test's is the one in its session.
    const running = (
      await claimTasks(gw().sql, {
        profile: 'reviewer',
        owner: 'test',
        leaseMs: 60_000,
        concurrency: 100,
        limit: 100,
      })
    ).find((t) => t.sessionId === sid);
    expect(running).toMatchObject({ sessionId: sid, prompt: 'hello', status: 'running' });
    const reply = await api('POST', `/sessions/${sid}/messages`, { content: 'yes', notify: true });
    await api('POST', `/tasks/${running!.id}/cancel`, {});
    const stream = await collect(
      (await openSse(`${gw().url}/api/v1/tasks/${running!.id}/events`, auth)).events,
    );
    const message = stream.find((e) => e.event === 'task:message');
    expect(JSON.parse(message!.data).data).toEqual({
      messageId: reply.json.message.id,
      role: 'user',
    });
    const listed = await api('GET', `/sessions/${sid}/messages?limit=2`);
    expect(listed.json.messages.map((m: Json) => m.content)).toEqual(['hello', 'just a note']);
    const next = await api('GET', `/sessions/${sid}/messages?after=${listed.json.next}`);
    expect(next.json.messages.map((m: Json) => m.content)).toEqual(['yes']);
    const noProfile = await api('POST', '/sessions', { key: 'chat:plain' });
    const refused = await api('POST', `/sessions/${noProfile.json.session.id}/messages`, {
      content: 'go',
      run_agent: true,
    });
    expect(refused.status).toBe(400);
    expect(issuePaths(refused.json)).toEqual(['run_agent']);
    const audit = await api('GET', '/audit?limit=500');
    const actions = new Set(audit.json.entries.map((e: Json) => e.action));
    // tasks.config is audited in the agent config test: each test runs alone too (-t).
    for (const a of ['tasks.create', 'tasks.cancel', 'sessions.create', 'sessions.message']) {
      expect(actions, a).toContain(a);
    }
  });

  it('OpenAPI lists every route the router registers, with its scope and schemas', async () => {
    const res = await api('GET', '/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.json;
    const router = apiRouter({
      sql: gw().sql,
      log: createLogger('silent'),
      registry: gw().registry,
      masterKey: Buffer.alloc(32),
      tokens: gw().tokens,
      publicUrl: () => gw().url,
    });
    const { registeredRoutes, openApiPath } = await import('../../gateway/src/api/openapi.ts');
    const registered = registeredRoutes(router).map((r) => `${r.method} ${openApiPath(r.path)}`);
    const documented = Object.entries(doc.paths as Json).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m} ${p}`),
    );
    expect(registered.length).toBeGreaterThan(15);
    expect([...registered].sort()).toEqual([...documented].sort());
    const create = doc.paths['/tasks'].post;
    expect(create['x-switchboard-scope']).toBe('tasks:write');
    expect(JSON.stringify(create.requestBody)).toContain('idempotencyKey');
    expect(Object.keys(create.responses)).toEqual(expect.arrayContaining(['200', '201']));
    expect(doc.paths['/tasks/{id}/events'].get.responses['200'].content).toHaveProperty(
      'text/event-stream',
    );
  });
});
