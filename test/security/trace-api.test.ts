/**
 * GET /api/v1/trace/… (issue 17): a trace joins a delivery and its tasks, so it needs both
 * tasks:read and deliveries:read; an integration's process key (should its row hold them) reads
 * only its own deliveries' and sessions' traces, and another's answers like an unknown id; and
 * nothing secret is in a trace: no webhook headers or body, no outbox target config (a webhook's
 * signing secret), no tool-call arguments.
 */
import { describe, expect, it } from 'vitest';
import { insertDelivery } from '../../gateway/src/deliveries/store.ts';
import { insertToolUseEvents } from '../../gateway/src/events/store.ts';
import { generateApiKey } from '../../gateway/src/keys/format.ts';
import { insertApiKey } from '../../gateway/src/keys/store.ts';
import { createTask, type TaskFields } from '../../gateway/src/tasks/create.ts';
import { insertDispatchRow } from '../../gateway/src/tasks/sql/outbox-row.ts';
import { ADMIN_KEY, useTestGateway } from '../helpers/gateway.ts';

// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; the API validates them
type Json = Record<string, any>;

const SECRET_HEADER = 'x-webhook-secret-value-7f3a';
const SECRET_BODY = 'body-secret-9c21';
const SIGNING_SECRET = 'whsec_trace_signing_secret_5d8e';
const TOOL_ARGUMENT = 'argument-secret-1b44';

describe('trace API: scopes, integration keys, secrets', () => {
  const gw = useTestGateway();
  const get = async (route: string, key: string) => {
    const res = await fetch(`${gw().url}/api/v1${route}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    return { status: res.status, json: (await res.json()) as Json };
  };
  const keyOf = async (scopes: string[], integration?: string) => {
    const made = generateApiKey(integration);
    await insertApiKey(gw().sql, {
      prefix: made.prefix,
      hash: made.hash,
      name: `trace-${scopes.join('+')}-${integration ?? 'operator'}`,
      scopes,
      source: integration ? 'integration' : 'cli',
      integration,
      createdBy: 'test',
    });
    return made.key;
  };
  const fields = (deliveryId: string | null): TaskFields => ({
    external: false,
    profile: 'held',
    prompt: 'p',
    scope: [],
    execution: {},
    dispatch: { type: 'webhook', config: { url: 'https://example.com/x', secret: SIGNING_SECRET } },
    timeoutMs: null,
    maxAttempts: 3,
    idempotencyKey: null,
    deliveryId,
    event: null,
  });

  /** A delivery of `integration` with one task in session `<integration>:s`, and its dispatch row. */
  async function chain(integration: string) {
    const delivery = (await insertDelivery(gw().sql, {
      integration,
      endpoint: 'events',
      deliveryId: `d-${integration}-${Math.random()}`,
      headers: { 'x-secret-looking': SECRET_HEADER, 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ token: SECRET_BODY })),
    }))!;
    const created = await gw().sql.begin((tx) =>
      createTask(tx, {
        session: { key: `${integration}:s`, profile: null, dispatch: null },
        message: { role: 'integration', content: 'hello', source: null },
        task: fields(delivery),
      }),
    );
    const taskId = created.task!.id;
    await gw().sql`update tasks set status = 'complete', finished_at = now() where id = ${taskId}`;
    expect(await insertDispatchRow(gw().sql, taskId)).toEqual(expect.any(String));
    await insertToolUseEvents(
      gw().sql,
      [taskId],
      [
        JSON.stringify({
          integration,
          tool: 't',
          durationMs: 3,
          ok: true,
          arguments: { q: TOOL_ARGUMENT },
        }),
      ],
    );
    return { delivery, taskId };
  }

  it('403 without tasks:read or without deliveries:read; 401 without a key; 200 with both', async () => {
    const { delivery, taskId } = await chain('alpha');
    const routes = [`/trace/deliveries/${delivery}`, `/trace/tasks/${taskId}`];
    const onlyTasks = await keyOf(['tasks:read']);
    const onlyDeliveries = await keyOf(['deliveries:read']);
    const writer = await keyOf(['tasks:write', 'deliveries:write', 'outbox:read']);
    const both = await keyOf(['tasks:read', 'deliveries:read']);
    for (const route of routes) {
      expect((await get(route, 'sbk_not_a_key')).status).toBe(401);
      expect(await get(route, onlyTasks)).toMatchObject({
        status: 403,
        json: { error: { code: 'forbidden', requiredScope: 'deliveries:read' } },
      });
      expect(await get(route, onlyDeliveries)).toMatchObject({
        status: 403,
        json: { error: { code: 'forbidden', requiredScope: 'tasks:read' } },
      });
      expect((await get(route, writer)).status).toBe(403);
      expect((await get(route, both)).status).toBe(200);
    }
  });

  it("an integration's key: its own traces only; another's answers 404 like an unknown id", async () => {
    const alpha = await chain('alpha');
    const beta = await chain('beta');
    const scopes = ['tasks:read', 'deliveries:read'];
    const alphaKey = await keyOf(scopes, 'alpha');
    expect((await get(`/trace/deliveries/${alpha.delivery}`, alphaKey)).status).toBe(200);
    expect((await get(`/trace/tasks/${alpha.taskId}`, alphaKey)).status).toBe(200);
    const unknown = await get('/trace/tasks/00000000-0000-4000-8000-000000000000', alphaKey);
    for (const route of [`/trace/deliveries/${beta.delivery}`, `/trace/tasks/${beta.taskId}`]) {
      const refused = await get(route, alphaKey);
      expect(refused.status).toBe(404);
      expect(refused.json.error.code).toBe(unknown.json.error.code);
      expect(JSON.stringify(refused.json)).not.toContain('beta');
    }
    // A task of no delivery: by its session's key.
    const own = await gw().sql.begin((tx) =>
      createTask(tx, {
        session: { key: 'alpha:direct', profile: null, dispatch: null },
        message: { role: 'integration', content: 'hi', source: null },
        task: fields(null),
      }),
    );
    const foreign = await gw().sql.begin((tx) =>
      createTask(tx, {
        session: { key: 'alphabet:direct', profile: null, dispatch: null },
        message: { role: 'integration', content: 'hi', source: null },
        task: fields(null),
      }),
    );
    expect((await get(`/trace/tasks/${own.task!.id}`, alphaKey)).status).toBe(200);
    expect((await get(`/trace/tasks/${foreign.task!.id}`, alphaKey)).status).toBe(404);
    // Operator keys see every trace.
    expect((await get(`/trace/tasks/${foreign.task!.id}`, ADMIN_KEY)).status).toBe(200);
  });

  it('no webhook header or body, no target config (its signing secret), no tool arguments', async () => {
    const { delivery, taskId } = await chain('gamma');
    for (const route of [`/trace/deliveries/${delivery}`, `/trace/tasks/${taskId}`]) {
      const { status, json } = await get(route, ADMIN_KEY);
      expect(status).toBe(200);
      const text = JSON.stringify(json);
      for (const secret of [SECRET_HEADER, SECRET_BODY, SIGNING_SECRET, TOOL_ARGUMENT]) {
        expect(text).not.toContain(secret);
      }
      expect(text).toContain('"label":"tool gamma.t"');
      expect(text).toContain('dispatch webhook (outbox');
    }
  });
});
