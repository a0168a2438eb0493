/**
 * Skills served as MCP resources (mcp/skills.ts, skill://<integration>-<skill>/SKILL.md): what
 * an agent's token must not get through them. Another integration's skill (by URI, on /mcp and
 * on /mcp/<integration>), files outside the skills folder by a crafted URI or a planted symlink,
 * a FIFO that would hang a read, a file over the 64 KiB cap, and a folder of 60 skills listing
 * more than the 50 a listing reads. The same through the extension's skills/list and skills/get
 * (SEP-2640), on both protocol eras: another integration's skill answers like an unknown URI,
 * forged cursors choose nothing outside the token's list, and a view without skills does not
 * declare the extension or answer its methods.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { ListSkillsResultSchema } from '@modelcontextprotocol/core/ext/skills';
import { afterAll, describe, expect, it } from 'vitest';
import { SKILL_MAX_BYTES, SKILLS_LISTED_MAX } from '../../gateway/src/integrations/skills.ts';
import { writeSkillsIntegration, writeSkillsPolicy } from '../fixtures/skills/integrations.ts';
import { useTestGateway } from '../helpers/gateway.ts';
import { grantTask, integrationOf } from '../helpers/mcp-gateway.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-skill-attacks-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const many: Record<string, string> = {};
for (let i = 10; i < 70; i++) many[`s${i}.md`] = `Skill ${i}.\n`;
many['huge.md'] = 'x'.repeat(SKILL_MAX_BYTES + 1);
const docsDir = writeSkillsIntegration(tmp, 'docs', many);
fs.writeFileSync(path.join(tmp, 'docs', 'secret-notes.md'), 'outside the skills folder\n');
fs.symlinkSync('../secret-notes.md', path.join(docsDir, 'skills', 'aaa-link.md'));
execFileSync('mkfifo', [path.join(docsDir, 'skills', 'aaa-fifo.md')]);
writeSkillsIntegration(tmp, 'vault', { 'keys.md': 'vault only\n' });
// An integration without a skills folder: its views declare no skills extension.
const plainDir = writeSkillsIntegration(tmp, 'plain', {});
const plainManifest = path.join(plainDir, 'switchboard.yaml');
fs.writeFileSync(
  plainManifest,
  fs.readFileSync(plainManifest, 'utf8').replace('skills: skills/\n', ''),
);
const POLICY = writeSkillsPolicy(tmp, ['docs', 'vault', 'plain']);

describe('skills over MCP: attacks', () => {
  const gw = useTestGateway({ INTEGRATION_DIRS: tmp, SWITCHBOARD_POLICY: POLICY });
  const clients: Client[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
  });
  async function connect(
    url: string,
    token: string,
    era: 'legacy' | 'modern' = 'legacy',
  ): Promise<Client> {
    const client = new Client(
      { name: 'skill-attacker', version: '1.0.0' },
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

  it("a token of docs reads nothing of vault's, and nothing outside docs' skills folder", async () => {
    const granted = await grantTask(gw(), ['docs:shout']);
    const docs = integrationOf(granted, 'docs');
    for (const client of [
      await connect(granted.mcp.url, granted.mcp.token),
      await connect(docs.url, docs.token),
    ]) {
      const names = (await client.listResources()).resources.map((r) => r.name);
      expect(names.some((n) => n.startsWith('vault-'))).toBe(false);
      for (const uri of [
        'skill://vault-keys/SKILL.md',
        'skill://docs-aaa-link/SKILL.md',
        'skill://docs-aaa-fifo/SKILL.md',
        'skill://docs-huge/SKILL.md',
        'skill://docs-s10/../../secret-notes/SKILL.md',
        'skill://docs-s10/SKILL.md/../../../switchboard.yaml',
        'skill://docs-secret-notes/SKILL.md',
      ]) {
        await expect(client.readResource({ uri }), uri).rejects.toThrow(/not found/i);
      }
    }
    // The URIs that do exist are served, and hold only their file.
    const client = await connect(granted.mcp.url, granted.mcp.token);
    const read = await client.readResource({ uri: 'skill://docs-s10/SKILL.md' });
    expect((read.contents[0] as { text: string }).text).toMatch(/\n\nSkill 10\.\n$/);
  });

  it(`lists at most ${SKILLS_LISTED_MAX} skills of a folder of 60, without the unreadable ones`, async () => {
    const granted = await grantTask(gw(), ['docs:*']);
    const client = await connect(granted.mcp.url, granted.mcp.token);
    const names = (await client.listResources()).resources.map((r) => r.name);
    // The first 50 file names (aaa-fifo, aaa-link, huge, s10 … s56): three unreadable left out.
    expect(names).toHaveLength(SKILLS_LISTED_MAX - 3);
    expect(names).not.toContain('docs-aaa-link');
    expect(names).not.toContain('docs-aaa-fifo');
    expect(names).not.toContain('docs-huge');
  });

  // A 2025-era answer has no ttlMs / cacheScope (2026-07-28 only); the rest is the SDK's schema.
  const listed = ListSkillsResultSchema.partial({ ttlMs: true, cacheScope: true });
  const unknownSkill = (uri: string) => ({ code: -32602, message: `No skill is served at ${uri}` });

  for (const era of ['legacy', 'modern'] as const) {
    it(`${era}: skills/list and skills/get of a docs token never reach vault's skill or files outside the folder`, async () => {
      const granted = await grantTask(gw(), ['docs:shout']);
      const docs = integrationOf(granted, 'docs');
      for (const client of [
        await connect(granted.mcp.url, granted.mcp.token, era),
        await connect(docs.url, docs.token, era),
      ]) {
        const page = await client.request({ method: 'skills/list', params: {} }, listed);
        expect(page.skills.length).toBe(SKILLS_LISTED_MAX - 3);
        expect(page.skills.some((s) => !s.uri.startsWith('skill://docs-'))).toBe(false);
        for (const uri of [
          'skill://vault-keys/SKILL.md',
          'skill://docs-aaa-link/SKILL.md',
          'skill://docs-aaa-fifo/SKILL.md',
          'skill://docs-huge/SKILL.md',
          'skill://docs-s10/../../secret-notes/SKILL.md',
          'skill://docs-s10/SKILL.md/../../../switchboard.yaml',
          'skill://docs-s10/switchboard.yaml',
          'file:///etc/passwd',
          'skill://docs-secret-notes/SKILL.md',
        ]) {
          await expect(
            client.request({ method: 'skills/get', params: { uri } }, listed.partial()),
            uri,
          ).rejects.toMatchObject(unknownSkill(uri));
        }
        // Params the method does not take: no URI, a URI of 3000 characters, a cursor of another
        // list, a forged offset past the end (an empty page of this token's own list).
        for (const params of [{}, { uri: `skill://${'a'.repeat(3000)}/SKILL.md` }]) {
          await expect(
            client.request({ method: 'skills/get', params }, listed.partial()),
          ).rejects.toMatchObject({ code: -32602 });
        }
        const toolsCursor = Buffer.from('{"k":"tools","o":0}').toString('base64url');
        await expect(
          client.request({ method: 'skills/list', params: { cursor: toolsCursor } }, listed),
        ).rejects.toMatchObject({ code: -32602 });
        const far = Buffer.from('{"k":"skills","o":100000}').toString('base64url');
        const past = await client.request(
          { method: 'skills/list', params: { cursor: far } },
          listed,
        );
        expect(past.skills).toEqual([]);
      }
    });
  }

  it("a vault token lists vault's skill alone; a view without skills has no extension", async () => {
    const granted = await grantTask(gw(), ['vault:shout', 'plain:*']);
    const vault = await connect(granted.mcp.url, granted.mcp.token, 'modern');
    const page = await vault.request({ method: 'skills/list', params: {} }, listed);
    expect(page.skills.map((s) => s.uri)).toEqual(['skill://vault-keys/SKILL.md']);
    expect(page).toMatchObject({ ttlMs: 0, cacheScope: 'private' });
    await expect(
      vault.request(
        { method: 'skills/get', params: { uri: 'skill://docs-s10/SKILL.md' } },
        listed.partial(),
      ),
    ).rejects.toMatchObject(unknownSkill('skill://docs-s10/SKILL.md'));
    const plain = integrationOf(granted, 'plain');
    for (const era of ['legacy', 'modern'] as const) {
      const client = await connect(plain.url, plain.token, era);
      expect(client.getServerCapabilities()?.extensions, era).toBeUndefined();
      const outcome = await client.request({ method: 'skills/list', params: {} }, listed).then(
        () => 'answered',
        (e: { code?: unknown; data?: { status?: number } }) => e.data?.status ?? e.code,
      );
      // 2025: -32601; 2026-07-28 over HTTP: -32601 travels as HTTP 404 (test/security/mcp.test.ts).
      expect([-32601, 404], era).toContain(outcome);
    }
  });
});
