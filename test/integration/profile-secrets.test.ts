import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../gateway/src/cli/main.ts';
import { enqueueTask } from '../../gateway/src/tasks/queue.ts';
import { MANY, writeSecretsPolicy } from '../fixtures/agents/secrets-policy.ts';
import { ADMIN_KEY, runSwitchboard, useTestGateway } from '../helpers/gateway.ts';
import { taskEnded } from '../helpers/tasks.ts';

// Profile secrets (issue 15) in a real gateway on a real database: set from stdin by the real
// CLI and through the API, listed without values, decrypted into the environment of that
// profile's agents only (test/fixtures/agents/secrets-agent.mjs prints a hash of each, never
// the value), rotated in place, unset; a declared secret that is not set fails the task at start.
const sha = (value: string) => `sha256:${createHash('sha256').update(value).digest('hex')}`;
const ANTHROPIC = 'sk-ant-api03-integration-test-value-0001';
const BASE_URL = 'https://models.internal.example/v1';

/** The API's answers, as far as these tests read them. */
interface Answer {
  error: { code: string; message: string };
  secrets: Array<{ name: string; set: boolean; updatedBy: string | null }>;
  [field: string]: unknown;
}

describe('profile secrets', () => {
  const policy = writeSecretsPolicy();
  afterAll(() => fs.rmSync(policy.dir, { recursive: true, force: true }));
  const gw = useTestGateway({ SWITCHBOARD_POLICY: policy.file });
  const cliEnv = () => ({ SWITCHBOARD_URL: gw().url, SWITCHBOARD_ADMIN_KEY: ADMIN_KEY });
  const api = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${gw().url}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Answer };
  };
  const run = async (profile: string, names: string[]) => {
    const { task } = await enqueueTask(
      gw().sql,
      { profile, prompt: JSON.stringify({ names }) },
      gw().publishTaskEvents,
    );
    return task.id;
  };
  const lines = (result: string | null) =>
    Object.fromEntries((result ?? '').split('\n').map((l) => l.split('=') as [string, string]));

  it('set from stdin by the CLI and through the API; a task of the profile sees both, one of another profile neither', async () => {
    const set = await runSwitchboard(
      ['profiles', 'secrets', 'set', 'keyed', 'ANTHROPIC_API_KEY'],
      cliEnv(),
      `${ANTHROPIC}\n`,
    );
    expect(set).toMatchObject({ code: 0, stderr: '' });
    expect(set.stdout).toContain('set keyed/ANTHROPIC_API_KEY (stored encrypted)');
    expect(set.stdout).not.toContain(ANTHROPIC);
    const put = await api('PUT', '/profiles/keyed/secrets/OPENAI_BASE_URL', { value: BASE_URL });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({
      profile: 'keyed',
      name: 'OPENAI_BASE_URL',
      set: true,
      replaced: false,
    });

    // Several tasks at once, of both profiles.
    const keyed = await Promise.all(
      [1, 2, 3, 4, 5].map(() => run('keyed', ['ANTHROPIC_API_KEY', 'OPENAI_BASE_URL'])),
    );
    const plain = await Promise.all(
      [1, 2, 3].map(() => run('plain', ['ANTHROPIC_API_KEY', 'OPENAI_BASE_URL'])),
    );
    for (const id of keyed) {
      const done = await taskEnded(gw().sql, id);
      expect(done.status).toBe('complete');
      expect(lines(done.result)).toEqual({
        ANTHROPIC_API_KEY: sha(ANTHROPIC),
        OPENAI_BASE_URL: sha(BASE_URL),
      });
    }
    for (const id of plain) {
      const done = await taskEnded(gw().sql, id);
      expect(done.status).toBe('complete');
      expect(lines(done.result)).toEqual({ ANTHROPIC_API_KEY: 'unset', OPENAI_BASE_URL: 'unset' });
    }
  });

  it('list shows names, set or unset and when, never a value (CLI table, CLI --json, API)', async () => {
    const table = await runSwitchboard(['profiles', 'secrets', 'list', 'keyed'], cliEnv());
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^NAME\s+STATE\s+UPDATED\s+BY\n/);
    expect(table.stdout).toMatch(/ANTHROPIC_API_KEY\s+set\s+\d{4}-/);
    expect(table.stdout).toMatch(/OPENAI_BASE_URL\s+set\s+/);
    const json = await runSwitchboard(
      ['profiles', 'secrets', 'list', 'missing', '--json'],
      cliEnv(),
    );
    expect(JSON.parse(json.stdout)).toEqual({
      profile: 'missing',
      secrets: [
        { name: 'NEVER_SET_KEY', declared: true, set: false, updatedAt: null, updatedBy: null },
      ],
    });
    const listed = await api('GET', '/profiles/keyed/secrets');
    expect(listed.json.secrets.map((s) => [s.name, s.set, s.updatedBy])).toEqual([
      ['ANTHROPIC_API_KEY', true, expect.stringMatching(/^key:/)],
      ['OPENAI_BASE_URL', true, expect.stringMatching(/^key:/)],
    ]);
    for (const text of [table.stdout, json.stdout, JSON.stringify(listed.json)]) {
      expect(text).not.toContain(ANTHROPIC);
      expect(text).not.toContain(BASE_URL);
    }
    expect((await api('GET', '/profiles/nope/secrets')).json.error).toMatchObject({
      code: 'not_found',
      message: expect.stringContaining('defined: keyed, plain, missing, many, streamed, boxed'),
    });
  });

  it('30 secrets of one profile: all set, all listed, all in its agent', async () => {
    for (const [i, name] of MANY.entries()) {
      const put = await api('PUT', `/profiles/many/secrets/${name}`, {
        value: `value-of-secret-${i + 1}`,
      });
      expect(put.status).toBe(200);
    }
    const listed = await api('GET', '/profiles/many/secrets');
    expect(listed.json.secrets).toHaveLength(30);
    expect(listed.json.secrets.every((s) => s.set)).toBe(true);
    expect(listed.json.secrets.at(-1)?.name).toBe('SECRET_30');
    const done = await taskEnded(gw().sql, await run('many', MANY));
    expect(done.status).toBe('complete');
    expect(lines(done.result)).toEqual(
      Object.fromEntries(MANY.map((name, i) => [name, sha(`value-of-secret-${i + 1}`)])),
    );
  });

  it('a declared secret that is not set fails the task at start, naming the profile and the secret', async () => {
    const done = await taskEnded(gw().sql, await run('missing', ['NEVER_SET_KEY']));
    expect(done.status).toBe('failed');
    expect(done.reason).toBe('profile_secret_missing');
    expect(done.error).toContain(
      'profile missing declares the secret NEVER_SET_KEY, which is not set',
    );
    // No token was minted for a run that could not start.
    expect(await gw().sql`select 1 from tokens where task_id = ${done.id}`).toHaveLength(0);
  });

  it('rotation replaces the value in place; unset makes the next task fail', async () => {
    const rows = async () =>
      (await gw().sql<{ n: number }[]>`select count(*)::int as n from profile_secrets`)[0]!.n;
    const before = await rows();
    const rotated = 'sk-ant-api03-integration-test-value-0002';
    const again = await runSwitchboard(
      ['profiles', 'secrets', 'set', 'keyed', 'ANTHROPIC_API_KEY'],
      cliEnv(),
      rotated,
    );
    expect(again.stdout).toContain('replaced keyed/ANTHROPIC_API_KEY');
    expect(await rows()).toBe(before);
    const done = await taskEnded(gw().sql, await run('keyed', ['ANTHROPIC_API_KEY']));
    expect(lines(done.result)).toEqual({ ANTHROPIC_API_KEY: sha(rotated) });

    const unset = await runSwitchboard(
      ['profiles', 'secrets', 'unset', 'keyed', 'ANTHROPIC_API_KEY'],
      cliEnv(),
    );
    expect(unset).toMatchObject({ code: 0, stdout: 'unset keyed/ANTHROPIC_API_KEY\n' });
    expect(await rows()).toBe(before - 1);
    const failed = await taskEnded(gw().sql, await run('keyed', ['ANTHROPIC_API_KEY']));
    expect(failed).toMatchObject({ status: 'failed', reason: 'profile_secret_missing' });
    expect(failed.error).toContain('profile keyed declares the secret ANTHROPIC_API_KEY');

    const audit = await gw().sql<
      { action: string; target: string; details: Record<string, unknown> }[]
    >`
      select action, target, details from audit_log
      where action like 'profiles.secrets.%' and target = 'keyed/ANTHROPIC_API_KEY' order by id`;
    expect(audit.map((a) => [a.action, a.details])).toEqual([
      ['profiles.secrets.set', { replaced: false }],
      ['profiles.secrets.set', { replaced: true }],
      ['profiles.secrets.unset', { removed: true }],
    ]);
  });

  it('refuses what cannot be right, with the reason: undeclared names, short values, a terminal, argv', async () => {
    const undeclared = await api('PUT', '/profiles/plain/secrets/ANTHROPIC_API_KEY', {
      value: ANTHROPIC,
    });
    expect(undeclared.status).toBe(400);
    expect(undeclared.json.error).toMatchObject({
      code: 'profile_secret_unknown',
      message: expect.stringContaining(
        'profile plain declares no secret ANTHROPIC_API_KEY; declared: none',
      ),
    });
    const short = await api('PUT', '/profiles/keyed/secrets/OPENAI_BASE_URL', { value: 'abc' });
    expect(short.json.error).toMatchObject({ code: 'profile_secret_invalid' });
    expect(short.json.error.message).not.toContain('abc');
    const badName = await api('PUT', '/profiles/keyed/secrets/lower', { value: ANTHROPIC });
    expect(badName.json.error.code).toBe('invalid_request');
    const extra = await runSwitchboard(
      ['profiles', 'secrets', 'set', 'keyed', 'ANTHROPIC_API_KEY', ANTHROPIC],
      cliEnv(),
      '',
    );
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain('unexpected argument');
    const empty = await runSwitchboard(
      ['profiles', 'secrets', 'set', 'keyed', 'ANTHROPIC_API_KEY'],
      cliEnv(),
      '',
    );
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('no value on standard input for ANTHROPIC_API_KEY');
    // A terminal would echo the value as it is typed: refused before anything is read.
    const err: string[] = [];
    const code = await runCli(['profiles', 'secrets', 'set', 'keyed', 'ANTHROPIC_API_KEY'], {
      env: cliEnv(),
      out: () => {},
      err: (text) => err.push(text),
      stdin: Object.assign(Readable.from([`${ANTHROPIC}\n`]), { isTTY: true }),
    });
    expect(code).toBe(2);
    expect(err.join('')).toContain('standard input is a terminal, which would echo the value');
  });
});
