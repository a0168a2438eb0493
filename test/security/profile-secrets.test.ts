import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { provisionIntegrationKey } from '../../gateway/src/keys/integration-key.ts';
import { buildBundle } from '../../gateway/src/runners/bundle.ts';
import { jobManifest } from '../../gateway/src/runners/kubernetes-manifest.ts';
import { encryptSecret } from '../../gateway/src/secrets/cipher.ts';
import { enqueueTask } from '../../gateway/src/tasks/queue.ts';
import { MANY, writeSecretsPolicy } from '../fixtures/agents/secrets-policy.ts';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';
import { taskEnded } from '../helpers/tasks.ts';

// Profile secrets (model API keys, issue 15) against whoever should not have them: an
// integration's process key, a running agent's own task tokens, an operator key without
// profiles:write (or profiles:read), and the places a value could be written by accident — the
// gateway's log, the bundle files, the task's events and result when the agent prints it, a
// `docker run` command line, a ConfigMap, rows that grow with each rotation, a ciphertext moved
// to another row.
const MASTER_KEY = '3c'.repeat(32);
const ANTHROPIC = 'sk-ant-api03-security-test-value-ZZ9';
const BASE_URL = 'https://models.security.example/v1';
const FAKE_BIN = path.join(REPO_ROOT, 'test/fixtures/fake-bin');
const state = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-secrets-docker-'));
const policy = writeSecretsPolicy();
afterAll(() => {
  fs.rmSync(state, { recursive: true, force: true });
  fs.rmSync(policy.dir, { recursive: true, force: true });
});

interface Answer {
  error?: { code: string; message: string };
  secrets?: Array<{ name: string; set: boolean }>;
  [field: string]: unknown;
}

describe('profile secrets under attack', () => {
  // The fake docker (and its record, calls.jsonl) work in HOME, which reaches the docker CLI.
  fs.writeFileSync(path.join(state, 'fake.json'), JSON.stringify({ OUTPUT: 'container ran' }));
  const gw = useTestGateway(
    { SWITCHBOARD_POLICY: policy.file, SWITCHBOARD_MASTER_KEY: MASTER_KEY },
    { PATH: `${FAKE_BIN}:${process.env.PATH}`, HOME: state },
  );
  const api = async (key: string, method: string, route: string, body?: unknown) => {
    const res = await fetch(`${gw().url}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Answer };
  };
  const admin = (method: string, route: string, body?: unknown) =>
    api(ADMIN_KEY, method, route, body);
  const keyWith = async (...scopes: string[]) => {
    const created = await admin('POST', '/keys', { name: `probe-${scopes.join('-')}`, scopes });
    expect(created.status).toBe(201);
    return created.json.key as string;
  };
  const run = async (profile: string, plan: Record<string, unknown>) => {
    const { task } = await enqueueTask(
      gw().sql,
      { profile, prompt: JSON.stringify(plan) },
      gw().publishTaskEvents,
    );
    return taskEnded(gw().sql, task.id);
  };
  const set = async (profile: string, name: string, value: string) =>
    expect((await admin('PUT', `/profiles/${profile}/secrets/${name}`, { value })).status).toBe(
      200,
    );
  const routes = [
    ['GET', '/profiles/keyed/secrets', undefined],
    ['PUT', '/profiles/keyed/secrets/ANTHROPIC_API_KEY', { value: 'attacker-chosen-value' }],
    ['DELETE', '/profiles/keyed/secrets/ANTHROPIC_API_KEY', undefined],
  ] as const;

  it('an integration process key cannot list, set or unset them, even with its scopes widened in the database', async () => {
    await set('keyed', 'ANTHROPIC_API_KEY', ANTHROPIC);
    await set('keyed', 'OPENAI_BASE_URL', BASE_URL);
    const { key } = await provisionIntegrationKey(gw().sql, 'chat');
    for (const [method, route, body] of routes) {
      const answer = await api(key, method, route, body);
      expect(answer.status, `${method} ${route}`).toBe(403);
      expect(answer.json.error?.code).toBe('forbidden');
    }
    // Its key row is only ever given sessions:write; if it held more, the routes still refuse.
    await gw().sql`update api_keys set scopes = ${['*']} where integration = 'chat'`;
    for (const [method, route, body] of routes) {
      const answer = await api(key, method, route, body);
      expect(answer.status, `${method} ${route}`).toBe(403);
      expect(answer.json.error?.message).toContain('profile secrets are for operator keys only');
    }
    const [row] = await gw().sql<{ n: number }[]>`
      select count(*)::int as n from audit_log where action like 'profiles.secrets.%' and actor like 'key:sbk_chat%'`;
    expect(row!.n).toBe(0);
  });

  it("a running agent's own task tokens are no API keys: every try is 401", async () => {
    await set('keyed', 'ANTHROPIC_API_KEY', ANTHROPIC);
    const done = await run('keyed', { names: [], probe: 'keyed' });
    expect(done.status).toBe('complete');
    const probes = (done.result ?? '').split('\n').filter((l) => l.startsWith('probe '));
    // SWITCHBOARD_TOKEN and SWITCHBOARD_TOKEN_SWITCHBOARD, three routes each.
    expect(probes).toHaveLength(6);
    for (const line of probes) expect(line).toMatch(/ 401$/);
    const listed = await admin('GET', '/profiles/keyed/secrets');
    expect(listed.json.secrets?.find((s) => s.name === 'ANTHROPIC_API_KEY')?.set).toBe(true);
  });

  it('a read-only operator key lists names only; without profiles:read, nothing; keys:write cannot mint profiles:write', async () => {
    const reader = await keyWith('profiles:read');
    const listed = await api(reader, 'GET', '/profiles/keyed/secrets');
    expect(listed.status).toBe(200);
    expect(JSON.stringify(listed.json)).not.toContain(ANTHROPIC);
    for (const [method, route, body] of routes.slice(1)) {
      const answer = await api(reader, method, route, body);
      expect(answer.status).toBe(403);
      expect(answer.json.error).toMatchObject({
        code: 'forbidden',
        requiredScope: 'profiles:write',
      });
    }
    const wide = await keyWith('tasks:*', 'sessions:*', 'integrations:*', 'keys:write');
    expect((await api(wide, 'GET', '/profiles/keyed/secrets')).status).toBe(403);
    const minted = await api(wide, 'POST', '/keys', {
      name: 'escalate',
      scopes: ['profiles:write'],
    });
    expect(minted.status).toBe(403);
    expect(minted.json.error?.code).toBe('forbidden');
  });

  it('an agent that prints its key stores none of it: events, result, error and the gateway log hold only the marker', async () => {
    await set('keyed', 'ANTHROPIC_API_KEY', ANTHROPIC);
    await set('keyed', 'OPENAI_BASE_URL', BASE_URL);
    const names = ['ANTHROPIC_API_KEY', 'OPENAI_BASE_URL'];
    const done = await run('keyed', { names, leak: true });
    expect(done.status).toBe('complete');
    expect(done.result).toContain('[redacted ANTHROPIC_API_KEY]');
    expect(done.result).toContain(
      `debug: calling the model with OPENAI_BASE_URL=[redacted OPENAI_BASE_URL] (oops)`,
    );
    const events = await gw().sql<{ type: string; data: { stream?: string; text?: string } }[]>`
      select type, data from task_events where task_id = ${done.id} order by seq`;
    const tokens = events.filter((e) => e.type === 'task:token');
    expect(
      tokens.some(
        (e) => e.data.stream === 'stderr' && e.data.text === '[redacted ANTHROPIC_API_KEY]',
      ),
    ).toBe(true);
    const everything = JSON.stringify({ events, task: done });
    for (const value of [ANTHROPIC, BASE_URL]) expect(everything).not.toContain(value);

    // A multi-line value (a PEM key) is removed line by line as the runner splits it.
    const pemLines = ['MIIBVwIBADANBgkqhkiG9w0BAQEFAASC', 'AT0wggE5AgEAAkEAq7BFUpkGp3+XQ'];
    const pem = ['-----BEGIN KEY-----', ...pemLines, '-----END KEY-----'].join('\n');
    for (const [i, name] of MANY.entries())
      await set('many', name, i === 0 ? pem : `filler-value-${i}`);
    const multi = await run('many', { names: ['SECRET_01'], leak: true });
    expect(multi.status).toBe('complete');
    expect(multi.result).toContain('[redacted SECRET_01]');
    const all = await gw().sql<{ data: unknown }[]>`select data from task_events`;
    const log = gw().logs.text();
    for (const value of [ANTHROPIC, BASE_URL, ...pemLines]) {
      expect(JSON.stringify(all)).not.toContain(value);
      expect(log).not.toContain(value);
    }
    // Audit rows name the secret, never its value.
    const audit = await gw().sql`select * from audit_log where action like 'profiles.secrets.%'`;
    expect(audit.length).toBeGreaterThan(3);
    expect(JSON.stringify(audit)).not.toContain(ANTHROPIC);
  });

  it("agent: claude-code — a key quoted in its stream-json reaches no event, not even cut in two at the parser's 8 KiB", async () => {
    await set('streamed', 'ANTHROPIC_API_KEY', ANTHROPIC);
    const { task } = await enqueueTask(
      gw().sql,
      { profile: 'streamed', prompt: 'quote your key' },
      gw().publishTaskEvents,
    );
    const done = await taskEnded(gw().sql, task.id);
    expect(done.status).toBe('complete');
    expect(done.result).toBe('answer with [redacted ANTHROPIC_API_KEY]');
    const events = await gw().sql<{ type: string; data: Record<string, unknown> }[]>`
      select type, data from task_events where task_id = ${done.id} order by seq`;
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['task:assistant', 'task:agent_tool', 'task:usage']),
    );
    // The parser cuts the text 12 characters into the value: those 12 must not be stored.
    const stored = JSON.stringify(events);
    expect(stored).not.toContain(ANTHROPIC.slice(0, 12));
    expect(stored).toContain('[redacted ANTHROPIC_API_KEY]');
  });

  it('an agent that hands its key in through task_progress or task_complete stores none of it', async () => {
    await set('keyed', 'ANTHROPIC_API_KEY', ANTHROPIC);
    await set('keyed', 'OPENAI_BASE_URL', BASE_URL);
    const done = await run('keyed', {
      names: ['ANTHROPIC_API_KEY', 'OPENAI_BASE_URL'],
      complete: true,
    });
    expect(done).toMatchObject({
      status: 'complete',
      result:
        'done with ANTHROPIC_API_KEY=[redacted ANTHROPIC_API_KEY] OPENAI_BASE_URL=[redacted OPENAI_BASE_URL]',
    });
    const [row] = await gw().sql<{ agentResult: string }[]>`
      select agent_result as "agentResult" from tasks where id = ${done.id}`;
    const events = await gw().sql`select data from task_events where task_id = ${done.id}`;
    expect(JSON.stringify(events)).toContain(
      'using ANTHROPIC_API_KEY=[redacted ANTHROPIC_API_KEY]',
    );
    for (const value of [ANTHROPIC, BASE_URL]) {
      expect(row!.agentResult).not.toContain(value);
      expect(JSON.stringify(events)).not.toContain(value);
    }
  });

  it('the bundle files on disk hold no value, nor does the policy file', async () => {
    await set('keyed', 'ANTHROPIC_API_KEY', ANTHROPIC);
    const done = await run('keyed', { names: ['ANTHROPIC_API_KEY'], scan: true });
    expect(done.status).toBe('complete');
    // The agent saw the key in its environment, and found it in none of its files.
    expect(done.result).toMatch(/^ANTHROPIC_API_KEY=sha256:[0-9a-f]{64}$/m);
    expect(done.result).toMatch(/^files: ([5-9]|\d\d+), holding a value: none$/m);
    expect(fs.readFileSync(policy.file, 'utf8')).not.toContain(ANTHROPIC);
  });

  it('docker: the value is passed by name (-e NAME, the value in the CLI environment), never in argv', async () => {
    await set('boxed', 'ANTHROPIC_API_KEY', ANTHROPIC);
    const done = await run('boxed', { names: [] });
    expect(done).toMatchObject({ status: 'complete', result: 'container ran' });
    const calls = fs
      .readFileSync(path.join(state, 'calls.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { argv: string[]; env: Record<string, string> });
    const dockerRun = calls.find(
      (c) => c.argv[0] === 'run' && c.argv.includes(`switchboard.task=${done.id}`),
    );
    expect(dockerRun).toBeDefined();
    expect(JSON.stringify(dockerRun!.argv)).not.toContain(ANTHROPIC);
    const at = dockerRun!.argv.indexOf('ANTHROPIC_API_KEY');
    expect(dockerRun!.argv[at - 1]).toBe('--env');
    expect(dockerRun!.env.ANTHROPIC_API_KEY).toBe(ANTHROPIC);
  });

  it('kubernetes: the value is in the Secret, never in the ConfigMap or the pod spec', () => {
    const bundle = buildBundle({
      publicUrl: 'http://gw.internal:8080',
      taskId: 'T_7',
      token: 'tok',
      integrations: [],
      switchboardServer: { url: 'http://gw.internal:8080/mcp/switchboard', token: 'tok-sb' },
    });
    const { list } = jobManifest(
      { driver: 'kubernetes', image: 'agent:1', args: [] },
      { prompt: 'p', bundle, timeoutMs: 60_000, secrets: { ANTHROPIC_API_KEY: ANTHROPIC } },
    );
    const [secret, configMap, job] = list.items;
    expect(
      (secret as unknown as { stringData: Record<string, string> }).stringData.ANTHROPIC_API_KEY,
    ).toBe(ANTHROPIC);
    expect(JSON.stringify(configMap)).not.toContain(ANTHROPIC);
    expect(JSON.stringify(job)).not.toContain(ANTHROPIC);
    expect(JSON.stringify(job)).toContain(
      JSON.stringify({
        name: 'ANTHROPIC_API_KEY',
        valueFrom: { secretKeyRef: { name: secret!.metadata.name, key: 'ANTHROPIC_API_KEY' } },
      }),
    );
  });

  it('rotating a secret 60 times keeps one row', async () => {
    for (let i = 0; i < 60; i += 1)
      await set('keyed', 'OPENAI_BASE_URL', `${BASE_URL}/rotation-${i}`);
    const [row] = await gw().sql<{ n: number }[]>`
      select count(*)::int as n from profile_secrets where profile = 'keyed' and name = 'OPENAI_BASE_URL'`;
    expect(row!.n).toBe(1);
    const [all] = await gw().sql<{ n: number }[]>`select count(*)::int as n from profile_secrets`;
    expect(all!.n).toBeLessThanOrEqual(34); // keyed 2, many 30, streamed 1, boxed 1: declared names only
  });

  it("another row's ciphertext copied into a profile secret does not decrypt into an agent", async () => {
    // An integration setting's ciphertext (github/GITHUB_TOKEN) and another profile's.
    const stolen = encryptSecret(
      Buffer.from(MASTER_KEY, 'hex'),
      'ghp_integration_token_value',
      'github/GITHUB_TOKEN',
    );
    await gw().sql`
      update profile_secrets set value_encrypted = ${stolen}
      where profile = 'keyed' and name = 'ANTHROPIC_API_KEY'`;
    const failed = await run('keyed', { names: ['ANTHROPIC_API_KEY'] });
    expect(failed).toMatchObject({ status: 'failed', reason: 'secret_undecryptable' });
    expect(failed.error).toContain('profile:keyed/ANTHROPIC_API_KEY');
    await gw().sql`
      update profile_secrets set value_encrypted =
        (select value_encrypted from profile_secrets where profile = 'boxed' and name = 'ANTHROPIC_API_KEY')
      where profile = 'keyed' and name = 'ANTHROPIC_API_KEY'`;
    const moved = await run('keyed', { names: ['ANTHROPIC_API_KEY'] });
    expect(moved.reason).toBe('secret_undecryptable');
    expect(JSON.stringify(moved)).not.toContain('ghp_integration_token_value');
  });
});
