/**
 * Skills served as MCP resources (mcp/skills.ts, skill://<integration>-<skill>/SKILL.md): what
 * an agent's token must not get through them. Another integration's skill (by URI, on /mcp and
 * on /mcp/<integration>), files outside the skills folder by a crafted URI or a planted symlink,
 * a FIFO that would hang a read, a file over the 64 KiB cap, and a folder of 60 skills listing
 * more than the 50 a listing reads.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
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
const POLICY = writeSkillsPolicy(tmp, ['docs', 'vault']);

describe('skills over MCP: attacks', () => {
  const gw = useTestGateway({ INTEGRATION_DIRS: tmp, SWITCHBOARD_POLICY: POLICY });
  const clients: Client[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
  });
  async function connect(url: string, token: string): Promise<Client> {
    const client = new Client({ name: 'skill-attacker', version: '1.0.0' });
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
});
