/**
 * Issue 18 item 8: integrations' skills (the manifest's `skills:` folder) as MCP resources, the
 * way the MCP skills extension (SEP-2640) maps them: `skill://<integration>-<skill>/SKILL.md` in
 * resources/list (name, description, mimeType text/markdown) and resources/read, for a token
 * whose scope covers any tool of the integration; and task_context listing the skills a running
 * task can read. A real gateway, real stdio upstreams (which serve no resources of their own:
 * the capability comes from the skills), real MCP clients, both databases.
 */

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { SKILLS_EXTENSION_ID, SkillsClient } from '@modelcontextprotocol/client/ext/skills';
import {
  GetSkillResultSchema,
  ListSkillsResultSchema,
} from '@modelcontextprotocol/core/ext/skills';
import { afterAll, describe, expect, it } from 'vitest';
import { getQueueTask } from '../../gateway/src/tasks/queue.ts';
import { AGENT } from '../fixtures/agents/policy.ts';
import { writeSkillsIntegration, writeSkillsPolicy } from '../fixtures/skills/integrations.ts';
import { ADMIN_KEY, useTestGateway } from '../helpers/gateway.ts';
import { grantTask, integrationOf } from '../helpers/mcp-gateway.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-mcp-skills-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
// 30 numbered skills (names past 9), one with front matter of its own, one with `_`, one whose
// name is no Agent Skills name (`--`), and a symlink out of the folder.
const docs: Record<string, string> = {};
for (let i = 1; i <= 30; i++) docs[`step-${i}.md`] = `# Step ${i}\n\nDo step ${i}.\n`;
docs['review.md'] =
  '---\ndescription: Review a pull request\nallowed-tools: [Bash]\n---\n\nRead it, then answer.\n';
docs['snake_case.md'] = 'Snake case.\n';
docs['double--dash.md'] = 'Not an Agent Skills name.\n';
writeSkillsIntegration(tmp, 'docs', docs);
fs.symlinkSync('/etc/hostname', path.join(tmp, 'docs', 'skills', 'escape.md'));
writeSkillsIntegration(tmp, 'other', { 'secret.md': 'Only for tokens covering other.\n' });
// Two more, so a token covering all four has 32 + 1 + 50 + 30 = 113 skills: skills/list pages
// past the first (100 a page, mcp/cursors.ts PAGE_SIZE). Bytes beyond ASCII for the digests.
const numbered = (prefix: string, n: number) =>
  Object.fromEntries(
    Array.from({ length: n }, (_, i) => [
      `${prefix}${i + 1}.md`,
      `Use ${prefix}${i + 1} — naïve ✓.\n`,
    ]),
  );
writeSkillsIntegration(tmp, 'more', numbered('m', 50));
writeSkillsIntegration(tmp, 'extra', numbered('x', 30));

const runner = `{ driver: process, command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(AGENT)}, "{prompt}"] }`;
const POLICY = writeSkillsPolicy(tmp, ['docs', 'other', 'more', 'extra'], {
  runner,
  tools: ['docs:shout'],
});

const DOCS_NAMES = [
  ...Array.from({ length: 30 }, (_, i) => `docs-step-${i + 1}`),
  'docs-review',
  'docs-snake-case',
].sort();

describe('skills as MCP resources (SEP-2640)', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: tmp,
    SWITCHBOARD_POLICY: POLICY,
  });
  const clients: Client[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
  });
  /** `legacy`: the 2025 handshake (the client's default); `modern`: 2026-07-28. */
  async function connect(
    url: string,
    token: string,
    era: 'legacy' | 'modern' = 'legacy',
  ): Promise<Client> {
    const client = new Client(
      { name: 'skills-test', version: '1.0.0' },
      era === 'modern' ? { versionNegotiation: { mode: 'auto' } } : {},
    );
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    clients.push(client);
    return client;
  }

  it('lists skill:// resources to a token covering one tool of the integration, and only those', async () => {
    const granted = await grantTask(gw(), ['docs:shout']);
    for (const [label, url, token] of [
      ['/mcp', granted.mcp.url, granted.mcp.token],
      ['/mcp/docs', integrationOf(granted, 'docs').url, integrationOf(granted, 'docs').token],
    ] as const) {
      const client = await connect(url, token);
      expect(client.getServerCapabilities()?.resources, label).toBeDefined();
      const { resources } = await client.listResources();
      expect(resources.map((r) => r.name).sort(), label).toEqual(DOCS_NAMES);
      const review = resources.find((r) => r.name === 'docs-review');
      expect(review).toEqual({
        uri: 'skill://docs-review/SKILL.md',
        name: 'docs-review',
        description: 'Review a pull request',
        mimeType: 'text/markdown',
        size: expect.any(Number),
      });
      expect(resources.find((r) => r.name === 'docs-step-17')?.description).toBe('Step 17');
      const read = await client.readResource({ uri: 'skill://docs-review/SKILL.md' });
      const text = (read.contents[0] as { text: string }).text;
      expect(read.contents[0]).toMatchObject({
        uri: 'skill://docs-review/SKILL.md',
        mimeType: 'text/markdown',
      });
      expect(text).toBe(
        '---\nname: docs-review\ndescription: "Review a pull request"\n---\n\nRead it, then answer.\n',
      );
      expect(Buffer.byteLength(text)).toBe(review!.size);
      // Another integration's skill, a symlink out of the folder, a name that is not listed.
      for (const uri of [
        'skill://other-secret/SKILL.md',
        'skill://docs-escape/SKILL.md',
        'skill://docs-double--dash/SKILL.md',
        'skill://docs-review/../../other-secret/SKILL.md',
      ]) {
        await expect(client.readResource({ uri }), `${label} ${uri}`).rejects.toThrow(/not found/i);
      }
    }
  });

  it('a token covering both integrations lists both; one covering only other lists only its skill', async () => {
    const both = await connect(...(await tokenOf(['docs:shout', 'other:*'])));
    const names = (await both.listResources()).resources.map((r) => r.name);
    expect(names).toContain('other-secret');
    expect(names.filter((n) => n.startsWith('docs-'))).toHaveLength(DOCS_NAMES.length);
    const read = await both.readResource({ uri: 'skill://other-secret/SKILL.md' });
    expect((read.contents[0] as { text: string }).text).toContain(
      'Only for tokens covering other.',
    );
  });

  async function tokenOf(scope: string[]): Promise<[string, string]> {
    const granted = await grantTask(gw(), scope);
    return [granted.mcp.url, granted.mcp.token];
  }

  it("task_context lists the skills the running task can read (its grant's, not other's)", async () => {
    const api = async (method: string, route: string, body?: unknown) => {
      const res = await fetch(`${gw().url}/api/v1${route}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return (await res.json()) as Record<string, unknown>;
    };
    const prompt = JSON.stringify({ mode: 'sleep', out: path.join(tmp, 'context.json') });
    const created = await api('POST', '/tasks', {
      profile: 'agent',
      session: 'ops:skills',
      prompt,
    });
    const task = created.task as { id: string };
    await expect
      .poll(async () => (await getQueueTask(gw().sql, task.id)).status, {
        timeout: 30_000,
        interval: 50,
      })
      .toBe('running');
    const config = await api('POST', `/tasks/${task.id}/config`, { format: 'json' });
    const env = config.env as Record<string, string>;
    const client = await connect(`${gw().url}/mcp/switchboard`, env.SWITCHBOARD_TOKEN_SWITCHBOARD!);
    const result = await client.callTool({ name: 'task_context', arguments: {} });
    const skills = (result.structuredContent as { skills: Array<Record<string, string>> }).skills;
    expect(skills.map((s) => s.name).sort()).toEqual(DOCS_NAMES);
    expect(skills.find((s) => s.name === 'docs-review')).toEqual({
      name: 'docs-review',
      description: 'Review a pull request',
      uri: 'skill://docs-review/SKILL.md',
    });
    await api('POST', `/tasks/${task.id}/cancel`, {});
  });

  /** The SDK's result schemas; a 2025-era answer has no ttlMs / cacheScope (2026-07-28 only). */
  const listSchema = (era: 'legacy' | 'modern') =>
    era === 'modern'
      ? ListSkillsResultSchema
      : ListSkillsResultSchema.omit({ ttlMs: true, cacheScope: true });
  const getSchema = (era: 'legacy' | 'modern') =>
    era === 'modern'
      ? GetSkillResultSchema
      : GetSkillResultSchema.omit({ ttlMs: true, cacheScope: true });
  const sha256 = (text: string) =>
    `sha256:${createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex')}`;

  for (const era of ['legacy', 'modern'] as const) {
    it(`${era}: skills/list and skills/get (the extension) serve the same skills, digests of the bytes`, async () => {
      const granted = await grantTask(gw(), ['docs:shout']);
      for (const [label, url, token] of [
        ['/mcp', granted.mcp.url, granted.mcp.token],
        ['/mcp/docs', integrationOf(granted, 'docs').url, integrationOf(granted, 'docs').token],
      ] as const) {
        const client = await connect(url, token, era);
        expect(client.getProtocolEra(), label).toBe(era);
        expect(client.getServerCapabilities()?.extensions, label).toEqual({
          [SKILLS_EXTENSION_ID]: {},
        });
        const raw = await client.request({ method: 'skills/list', params: {} }, listSchema(era));
        expect(raw.nextCursor, label).toBeUndefined();
        if (era === 'modern') expect(raw).toMatchObject({ ttlMs: 0, cacheScope: 'private' });
        else expect(raw).not.toHaveProperty('ttlMs');
        expect(raw.skills.map((s) => s.frontmatter.name).sort(), label).toEqual(DOCS_NAMES);
        // The same skills as resources/list, by URI.
        const resources = (await client.listResources()).resources.map((r) => r.uri).sort();
        expect(raw.skills.map((s) => s.uri).sort(), label).toEqual(resources);
        const review = raw.skills.find((s) => s.uri === 'skill://docs-review/SKILL.md')!;
        expect(review.frontmatter).toEqual({
          name: 'docs-review',
          description: 'Review a pull request',
        });
        const text = (
          (await client.readResource({ uri: review.uri })).contents[0] as { text: string }
        ).text;
        expect(review.resources).toEqual([
          { uri: review.uri, digest: sha256(text), size: Buffer.byteLength(text) },
        ]);
        // The SDK's host side verifies every entry and file (digest, size, frontmatter).
        const skills = new SkillsClient(client);
        expect(skills.supported).toBe(true);
        expect(skills.directoryRead).toBe(false);
        const listing = await skills.list();
        expect(listing.skills).toHaveLength(DOCS_NAMES.length);
        for (const entry of listing.skills.slice(0, 12)) {
          const file = await skills.read(entry);
          expect(file.verified, entry.uri).toBe(true);
          expect(file.frontmatter).toEqual(entry.frontmatter);
        }
        const got = await client.request(
          { method: 'skills/get', params: { uri: 'skill://docs-step-17/SKILL.md' } },
          getSchema(era),
        );
        expect(got.skill).toEqual(raw.skills.find((s) => s.frontmatter.name === 'docs-step-17'));
        if (era === 'modern') expect(got).toMatchObject({ ttlMs: 0, cacheScope: 'private' });
        // Another integration's skill answers as a URI no server serves: -32602, same words.
        for (const uri of [
          'skill://other-secret/SKILL.md',
          'skill://docs-escape/SKILL.md',
          'skill://no-such-skill/SKILL.md',
        ]) {
          await expect(
            client.request({ method: 'skills/get', params: { uri } }, getSchema(era)),
            `${label} ${uri}`,
          ).rejects.toMatchObject({ code: -32602, message: `No skill is served at ${uri}` });
        }
      }
    });
  }

  it('skills/list pages 113 skills of four integrations (100, then 13), none split or repeated', async () => {
    const [url, token] = await tokenOf(['docs:shout', 'other:*', 'more:*', 'extra:shout']);
    for (const era of ['legacy', 'modern'] as const) {
      const client = await connect(url, token, era);
      const first = await client.request({ method: 'skills/list', params: {} }, listSchema(era));
      expect(first.skills).toHaveLength(100);
      expect(first.nextCursor).toEqual(expect.any(String));
      const second = await client.request(
        { method: 'skills/list', params: { cursor: first.nextCursor } },
        listSchema(era),
      );
      expect(second.skills).toHaveLength(13);
      expect(second.nextCursor).toBeUndefined();
      const uris = [...first.skills, ...second.skills].map((s) => s.uri);
      expect(new Set(uris).size).toBe(113);
      expect(uris).toContain('skill://more-m50/SKILL.md');
      expect(uris).toContain('skill://extra-x30/SKILL.md');
      expect(uris).toContain('skill://other-secret/SKILL.md');
      // The SDK's client walks the pages and checks every entry; digests are of UTF-8 bytes.
      const listing = await new SkillsClient(client).list();
      expect(listing.skills.map((s) => s.uri)).toEqual(uris);
      const m10 = listing.skills.find((s) => s.frontmatter.name === 'more-m10')!;
      const text = ((await client.readResource({ uri: m10.uri })).contents[0] as { text: string })
        .text;
      expect(text).toContain('naïve ✓');
      expect(m10.resources).toEqual([
        { uri: m10.uri, digest: sha256(text), size: Buffer.byteLength(text) },
      ]);
    }
  });
});
