import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { tablePanelDataSchema } from '@switchboard/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import * as z from 'zod';
import { type FakeGitHub, startFakeGitHub } from '../helpers/fake-github.ts';
import { manifestTransport } from '../helpers/server-transport.ts';

const SERVER_DIR = fileURLToPath(new URL('../../servers/github/', import.meta.url));
const TOKEN = 'ghp_test_token_0123456789';

const Manifest = z.object({
  server: z.object({
    transport: z.literal('stdio'),
    command: z.string(),
    args: z.array(z.string()).default([]),
  }),
  settings: z.array(z.object({ key: z.string() })),
  tools: z.object({ hidden: z.array(z.string()) }),
  schedules: z.array(z.object({ name: z.string(), cron: z.string(), handler: z.string() })),
});
const manifest = Manifest.parse(
  parse(readFileSync(path.join(SERVER_DIR, 'switchboard.yaml'), 'utf8')),
);

function githubTransport(settings: Record<string, string>) {
  return manifestTransport(SERVER_DIR, manifest.server, settings);
}

const TextBlock = z.object({ type: z.literal('text'), text: z.string() });
const firstText = (content: unknown) =>
  TextBlock.parse(z.array(z.unknown()).parse(content)[0]).text;

/** A pull_request "opened" delivery as GitHub sends it, trimmed to the fields that matter. */
const pullRequestOpened = {
  action: 'opened',
  number: 42,
  pull_request: {
    url: 'https://api.github.com/repos/acme/api/pulls/42',
    id: 1_234_567_890,
    html_url: 'https://github.com/acme/api/pull/42',
    number: 42,
    state: 'open',
    locked: false,
    title: 'Add dark mode',
    user: { login: 'octocat', id: 1, type: 'User' },
    body: 'Adds a dark theme toggle.',
    created_at: '2025-01-01T10:00:00Z',
    draft: false,
    head: { label: 'octocat:dark-mode', ref: 'dark-mode', sha: 'a'.repeat(40) },
    base: { label: 'acme:main', ref: 'main', sha: 'b'.repeat(40) },
  },
  repository: {
    id: 99,
    name: 'api',
    full_name: 'acme/api',
    private: false,
    owner: { login: 'acme', id: 2, type: 'Organization' },
    html_url: 'https://github.com/acme/api',
  },
  sender: { login: 'octocat', id: 1, type: 'User' },
};

const issueCommentCreated = (login: string, type: string, body: string) => ({
  action: 'created',
  issue: {
    number: 7,
    title: 'Crash on start',
    state: 'open',
    user: { login: 'reporter', type: 'User' },
  },
  comment: {
    id: 555,
    html_url: 'https://github.com/acme/api/issues/7#issuecomment-555',
    body,
    user: { login, type },
  },
  repository: { full_name: 'acme/api', name: 'api' },
  sender: { login, type },
});

function delivery(event: string, payload: unknown) {
  const body = JSON.stringify(payload);
  return {
    endpoint: 'events',
    headers: {
      'x-github-event': event,
      'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
      'x-hub-signature-256': 'sha256=verified-by-the-gateway',
      'content-type': 'application/json',
    },
    body,
    deliveryId: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
  };
}

const Triggers = z.object({
  triggers: z.array(
    z.object({
      session: z.object({
        key: z.string(),
        dispatch: z.object({ type: z.string(), config: z.record(z.string(), z.unknown()) }),
      }),
      message: z.string(),
      run: z.boolean(),
      execution: z.object({
        preamble: z.string(),
        tools: z.array(z.string()),
        skills: z.array(z.string()).optional(),
      }),
    }),
  ),
});

describe('servers/github over stdio against a fake GitHub API', () => {
  let github: FakeGitHub;
  let client: Client;

  beforeAll(async () => {
    github = await startFakeGitHub({
      token: TOKEN,
      pulls: {
        'acme/api': [
          { number: 42, title: 'Add dark mode', body: 'Adds a theme.', author: 'octocat' },
        ],
      },
      issues: {
        // acme/quiet has none open: nightly-triage gives it no trigger.
        'acme/quiet': [{ number: 1, title: 'Done', author: 'reporter', state: 'closed' }],
        'acme/api': [
          { number: 7, title: 'Crash on start', author: 'reporter', state: 'open' },
          {
            number: 42,
            title: 'Add dark mode',
            author: 'octocat',
            state: 'open',
            isPullRequest: true,
          },
          { number: 3, title: 'Old bug', author: 'reporter', state: 'closed' },
        ],
      },
    });
    client = new Client({ name: 'servers-github-test', version: '0.0.0' });
    const started = performance.now();
    await client.connect(
      githubTransport({
        GITHUB_TOKEN: TOKEN,
        GITHUB_WEBHOOK_SECRET: 'whsec-test',
        GITHUB_API_URL: github.url,
        GITHUB_TRIAGE_REPOS: 'acme/api, acme/quiet',
      }),
    );
    await client.listTools();
    console.log(
      `github cold spawn → first tools/list: ${(performance.now() - started).toFixed(0)} ms`,
    );
  });

  afterAll(async () => {
    await client?.close();
    await github?.close();
  });

  it('declares every setting it reads and hides the gateway handlers', async () => {
    expect(manifest.settings.map((s) => s.key).sort()).toEqual([
      'GITHUB_API_URL',
      'GITHUB_TOKEN',
      'GITHUB_TRIAGE_REPOS',
      'GITHUB_WEBHOOK_SECRET',
    ]);
    const tools = (await client.listTools()).tools.map((t) => t.name).sort();
    expect(tools).toEqual([
      'comment',
      'deliver',
      'get_pr',
      'list_issues',
      'on_schedule',
      'on_webhook',
      'panel_open_prs',
    ]);
    expect(manifest.tools.hidden.sort()).toEqual([
      'deliver',
      'on_schedule',
      'on_webhook',
      'panel_open_prs',
    ]);
    expect(manifest.schedules).toEqual([
      { name: 'nightly-triage', cron: '0 6 * * *', handler: 'on_schedule' },
    ]);
  });

  it('get_pr reads the pull request with the bearer token', async () => {
    github.calls.length = 0;
    const result = await client.callTool({
      name: 'get_pr',
      arguments: { repo: 'acme/api', number: 42 },
    });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({
      number: 42,
      title: 'Add dark mode',
      author: 'octocat',
    });
    expect(github.calls).toEqual([
      {
        method: 'GET',
        path: '/repos/acme/api/pulls/42',
        authorization: `Bearer ${TOKEN}`,
        body: undefined,
      },
    ]);
  });

  it('list_issues passes the state filter and marks pull requests', async () => {
    github.calls.length = 0;
    const open = await client.callTool({ name: 'list_issues', arguments: { repo: 'acme/api' } });
    expect(open.structuredContent).toEqual({
      issues: [
        expect.objectContaining({ number: 7, isPullRequest: false }),
        expect.objectContaining({ number: 42, isPullRequest: true }),
      ],
    });
    const closed = await client.callTool({
      name: 'list_issues',
      arguments: { repo: 'acme/api', state: 'closed' },
    });
    expect(firstText(closed.content)).toBe('#3 Old bug [closed]');
    expect(github.calls.map((c) => c.path)).toEqual([
      '/repos/acme/api/issues?state=open&per_page=100',
      '/repos/acme/api/issues?state=closed&per_page=100',
    ]);
  });

  it('comment posts the body', async () => {
    github.calls.length = 0;
    const result = await client.callTool({
      name: 'comment',
      arguments: { repo: 'acme/api', number: 7, body: 'Looking into it.' },
    });
    expect(result.structuredContent).toMatchObject({
      id: expect.any(Number),
      url: expect.any(String),
    });
    expect(github.calls).toEqual([
      {
        method: 'POST',
        path: '/repos/acme/api/issues/7/comments',
        authorization: `Bearer ${TOKEN}`,
        body: { body: 'Looking into it.\n\n<!-- switchboard -->' },
      },
    ]);
  });

  it('rejects a malformed repo before any request, and reports API errors as isError', async () => {
    github.calls.length = 0;
    const bad = await client.callTool({
      name: 'get_pr',
      arguments: { repo: '../../admin', number: 1 },
    });
    expect(bad.isError).toBe(true);
    expect(github.calls).toEqual([]);
    const missing = await client.callTool({
      name: 'get_pr',
      arguments: { repo: 'acme/api', number: 9 },
    });
    expect(missing.isError).toBe(true);
    expect(firstText(missing.content)).toMatch(/404/);
  });

  it('on_webhook turns a pull_request opened delivery into one trigger', async () => {
    const result = await client.callTool({
      name: 'on_webhook',
      arguments: delivery('pull_request', pullRequestOpened),
    });
    const { triggers } = Triggers.parse(result.structuredContent);
    expect(triggers).toEqual([
      {
        session: {
          key: 'github:acme/api#42',
          dispatch: { type: 'github', config: { repo: 'acme/api', number: 42 } },
        },
        message: expect.stringContaining('PR #42 opened by @octocat: Add dark mode'),
        run: true,
        execution: {
          preamble: expect.stringContaining('#42'),
          tools: ['github:get_pr', 'github:list_issues', 'github:comment'],
          skills: ['github/review'],
        },
      },
    ]);
  });

  it('on_webhook answers issue_comment created, and ignores bots and its own comments', async () => {
    const human = await client.callTool({
      name: 'on_webhook',
      arguments: delivery('issue_comment', issueCommentCreated('alice', 'User', 'Any update?')),
    });
    const { triggers } = Triggers.parse(human.structuredContent);
    expect(triggers).toHaveLength(1);
    expect(triggers[0]?.session.key).toBe('github:acme/api#7');
    expect(triggers[0]?.message).toContain('@alice commented on issue #7');

    for (const payload of [
      issueCommentCreated('ci[bot]', 'Bot', 'Build passed'),
      issueCommentCreated('alice', 'User', 'Done.\n\n<!-- switchboard -->'),
    ]) {
      const ignored = await client.callTool({
        name: 'on_webhook',
        arguments: delivery('issue_comment', payload),
      });
      expect(ignored.structuredContent).toEqual({ triggers: [] });
    }
  });

  it('on_webhook ignores ping and other actions', async () => {
    const ping = await client.callTool({
      name: 'on_webhook',
      arguments: delivery('ping', { zen: 'Keep it logically awesome.', hook_id: 1 }),
    });
    expect(ping.isError).toBeFalsy();
    expect(ping.structuredContent).toEqual({ triggers: [] });
    const closed = await client.callTool({
      name: 'on_webhook',
      arguments: delivery('pull_request', { ...pullRequestOpened, action: 'closed' }),
    });
    expect(closed.structuredContent).toEqual({ triggers: [] });
  });

  it('panel_open_prs lists PRs opened by webhook and drops them when closed (its own memory)', async () => {
    const rows = async () => {
      const result = await client.callTool({
        name: 'panel_open_prs',
        arguments: { panel: 'open-prs' },
      });
      expect(result.isError).toBeFalsy();
      return tablePanelDataSchema.parse(result.structuredContent).rows;
    };
    const opened = (number: number, title: string) =>
      client.callTool({
        name: 'on_webhook',
        arguments: delivery('pull_request', {
          ...pullRequestOpened,
          pull_request: { ...pullRequestOpened.pull_request, number, title },
        }),
      });
    await client.callTool({
      name: 'on_webhook',
      arguments: delivery('pull_request', { ...pullRequestOpened, action: 'closed' }),
    });
    expect(await rows()).toEqual([]);
    await opened(42, 'Add dark mode');
    await opened(43, 'Fix the build');
    expect(await rows()).toEqual([
      expect.objectContaining({
        repo: 'acme/api',
        number: 43,
        title: 'Fix the build',
        author: 'octocat',
      }),
      expect.objectContaining({ repo: 'acme/api', number: 42, title: 'Add dark mode' }),
    ]);
    await client.callTool({
      name: 'on_webhook',
      arguments: delivery('pull_request', { ...pullRequestOpened, action: 'closed' }),
    });
    expect((await rows()).map((r) => r.number)).toEqual([43]);
    // 250 opened: the table keeps the newest 200 (sdk PANEL_LIMITS.rows).
    for (let n = 1000; n < 1250; n++) await opened(n, `PR ${n}`);
    const many = await rows();
    expect(many).toHaveLength(200);
    expect(many[0]?.number).toBe(1249);
    expect(many.at(-1)?.number).toBe(1050);
  });

  it('on_schedule nightly-triage: one trigger per repository with open issues, PRs left out', async () => {
    github.calls.length = 0;
    const result = await client.callTool({
      name: 'on_schedule',
      arguments: { schedule: 'nightly-triage', fireTime: '2026-01-05T06:00:00Z' },
    });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({
      triggers: [
        {
          session: { key: 'github:acme/api:triage', dispatch: { type: 'none' } },
          message: '1 open issue in acme/api at 2026-01-05T06:00:00Z:\n#7 Crash on start',
          run: true,
          execution: {
            preamble: expect.stringContaining('Triage the open issues of acme/api'),
            tools: ['github:list_issues', 'github:comment'],
          },
        },
      ],
    });
    expect(github.calls.map((c) => c.path)).toEqual([
      '/repos/acme/api/issues?state=open&per_page=100',
      '/repos/acme/quiet/issues?state=open&per_page=100',
    ]);
    const other = await client.callTool({
      name: 'on_schedule',
      arguments: { schedule: 'weekly', fireTime: '2026-01-05T06:00:00Z' },
    });
    expect(other.structuredContent).toEqual({ triggers: [] });
  });

  it('deliver posts the result, or the error, as a marked comment', async () => {
    github.calls.length = 0;
    const dispatch = { type: 'github', config: { repo: 'acme/api', number: 42 } };
    const done = await client.callTool({
      name: 'deliver',
      arguments: {
        task: { id: 't_1', status: 'complete', result: 'LGTM, one nit.' },
        session: { id: 's_1', key: 'github:acme/api#42' },
        dispatch,
      },
    });
    expect(done.structuredContent).toMatchObject({ delivered: true, id: expect.any(Number) });
    const failed = await client.callTool({
      name: 'deliver',
      arguments: { task: { id: 't_2', status: 'failed', error: 'agent timed out' }, dispatch },
    });
    expect(failed.isError).toBeFalsy();
    expect(github.comments.get('acme/api#42')).toEqual([
      'LGTM, one nit.\n\n<!-- switchboard -->',
      'Task t_2 failed: agent timed out\n\n<!-- switchboard -->',
    ]);
    expect(github.calls.every((c) => c.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });
});

describe('servers/github without GITHUB_TOKEN', () => {
  it('refuses to start (exit 1) instead of serving unauthenticated calls', async () => {
    const transport = githubTransport({ GITHUB_WEBHOOK_SECRET: 'x' });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const client = new Client({ name: 'servers-github-notoken', version: '0.0.0' });
    await expect(client.connect(transport)).rejects.toThrow('Connection closed');
    expect(stderr).toContain('GITHUB_TOKEN');
  });
});

describe('servers/github with a wrong token', () => {
  it('surfaces GitHub 401 as an isError result', async () => {
    const github = await startFakeGitHub({ token: TOKEN });
    const client = new Client({ name: 'servers-github-badtoken', version: '0.0.0' });
    try {
      await client.connect(
        githubTransport({
          GITHUB_TOKEN: 'wrong',
          GITHUB_WEBHOOK_SECRET: 'x',
          GITHUB_API_URL: github.url,
        }),
      );
      const result = await client.callTool({
        name: 'get_pr',
        arguments: { repo: 'acme/api', number: 42 },
      });
      expect(result.isError).toBe(true);
      expect(firstText(result.content)).toMatch(/401/);
      expect(github.calls[0]?.authorization).toBe('Bearer wrong');
    } finally {
      await client.close();
      await github.close();
    }
  });
});

describe('servers/github nightly-triage settings', () => {
  const connect = async (github: FakeGitHub, repos?: string) => {
    const client = new Client({ name: 'servers-github-triage', version: '0.0.0' });
    await client.connect(
      githubTransport({
        GITHUB_TOKEN: TOKEN,
        GITHUB_WEBHOOK_SECRET: 'x',
        GITHUB_API_URL: github.url,
        ...(repos === undefined ? {} : { GITHUB_TRIAGE_REPOS: repos }),
      }),
    );
    return client;
  };
  const fire = { schedule: 'nightly-triage', fireTime: '2026-01-05T06:00:00Z' };

  it('without GITHUB_TRIAGE_REPOS it triages nothing and calls nothing', async () => {
    const github = await startFakeGitHub({ token: TOKEN });
    const client = await connect(github);
    try {
      const result = await client.callTool({ name: 'on_schedule', arguments: fire });
      expect(result.structuredContent).toEqual({ triggers: [] });
      expect(github.calls).toEqual([]);
    } finally {
      await client.close();
      await github.close();
    }
  });

  it('lists the first 20 titles and counts the rest', async () => {
    const issues = Array.from({ length: 25 }, (_, i) => ({
      number: i + 1,
      title: `Bug ${i + 1}`,
      author: 'reporter',
      state: 'open' as const,
    }));
    const github = await startFakeGitHub({ token: TOKEN, issues: { 'acme/big': issues } });
    const client = await connect(github, 'acme/big');
    try {
      const result = await client.callTool({ name: 'on_schedule', arguments: fire });
      const { triggers } = z
        .object({ triggers: z.array(z.object({ message: z.string() })) })
        .parse(result.structuredContent);
      const lines = triggers[0]!.message.split('\n');
      expect(lines[0]).toBe('25 open issues in acme/big at 2026-01-05T06:00:00Z:');
      expect(lines.slice(1, -1)).toHaveLength(20);
      expect(lines.at(-2)).toBe('#20 Bug 20');
      expect(lines.at(-1)).toBe('… and 5 more');
    } finally {
      await client.close();
      await github.close();
    }
  });

  it('refuses to start with a GITHUB_TRIAGE_REPOS entry that is not owner/name', async () => {
    const transport = githubTransport({
      GITHUB_TOKEN: TOKEN,
      GITHUB_WEBHOOK_SECRET: 'x',
      GITHUB_TRIAGE_REPOS: 'acme/api,../admin',
    });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const client = new Client({ name: 'servers-github-badrepos', version: '0.0.0' });
    await expect(client.connect(transport)).rejects.toThrow('Connection closed');
    expect(stderr).toContain('GITHUB_TRIAGE_REPOS');
  });
});
