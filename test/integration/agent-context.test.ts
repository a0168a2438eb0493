/**
 * A task's context for its agent (issue 15, tasks/agent-context.ts): the preamble, the
 * session's newest messages (the bounds of task_context) and the skills of granted
 * integrations, gathered from real files and a real database, then placed where each agent
 * preset reads them and written by the drivers (process, kubernetes manifest).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SKILL_MAX_BYTES } from '../../gateway/src/integrations/skills.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { buildBundle } from '../../gateway/src/runners/bundle.ts';
import { placeContext } from '../../gateway/src/runners/context-files.ts';
import { removeWorkdir, writeBundle } from '../../gateway/src/runners/files.ts';
import { jobManifest } from '../../gateway/src/runners/kubernetes-manifest.ts';
import { AGENT_PRESETS } from '../../gateway/src/runners/presets/index.ts';
import { ProcessRunner } from '../../gateway/src/runners/process.ts';
import type { OutputLine } from '../../gateway/src/runners/runner.ts';
import { CONTEXT_MESSAGE_CHARS, CONTEXT_MESSAGES } from '../../gateway/src/sessions/history.ts';
import { createOrGetSession, insertMessage } from '../../gateway/src/sessions/store.ts';
import {
  gatherAgentContext,
  gatherSkills,
  prepareAgentContext,
  SKILLS_TOTAL_MAX_BYTES,
  type SkillSource,
} from '../../gateway/src/tasks/agent-context.ts';
import { enqueueTask } from '../../gateway/src/tasks/queue.ts';
import { useMigratedDatabase } from '../helpers/database.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-agent-context-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const log = createLogger('silent');

/** An integration folder with `skills/` holding `files` (name → content). */
function integration(name: string, files: Record<string, string>) {
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, 'skills'), { recursive: true });
  for (const [file, content] of Object.entries(files))
    fs.writeFileSync(path.join(dir, 'skills', file), content);
  return { name, dir, manifest: { skills: 'skills/' } };
}

// 30 skills in alpha (names past 9), two in beta, one integration without skills.
const alphaFiles: Record<string, string> = {};
for (let i = 1; i <= 30; i += 1) alphaFiles[`skill-${i}.md`] = `# Skill ${i}\n\nStep ${i}.\n`;
alphaFiles['review.md'] = '---\ndescription: Review a pull request\n---\n\nRead it, then answer.\n';
alphaFiles['big.md'] = 'x'.repeat(SKILL_MAX_BYTES + 1);
alphaFiles['edge.md'] = 'y'.repeat(SKILL_MAX_BYTES);
const items = new Map(
  [
    integration('alpha', alphaFiles),
    integration('beta', { 'secret.md': 'beta only\n' }),
    { name: 'plain', dir: path.join(tmp, 'alpha'), manifest: {} },
  ].map((i) => [i.name, i]),
);
const registry: SkillSource = { get: (name) => items.get(name) };

describe('gatherSkills', () => {
  it('reads 30 skills of a granted integration in the order asked, each once', async () => {
    const names = Array.from({ length: 30 }, (_, i) => `alpha/skill-${30 - i}`);
    const { skills, refused } = await gatherSkills(
      registry,
      [...names, 'alpha/skill-12'],
      ['alpha'],
    );
    expect(skills.map((s) => s.name)).toEqual(names);
    expect(skills[0]).toMatchObject({
      integration: 'alpha',
      skill: 'skill-30',
      content: '# Skill 30\n\nStep 30.\n',
    });
    expect(refused).toEqual([
      { skill: 'alpha/skill-12', reason: 'duplicate', message: expect.stringContaining('twice') },
    ]);
  });

  it('refuses what the task may not have, saying which and why, and keeps the rest', async () => {
    const { skills, refused } = await gatherSkills(
      registry,
      [
        'beta/secret', // not granted
        'alpha/../beta/secret',
        'alpha/missing',
        'plain/review', // granted, but no skills folder
        'alpha/big',
        'alpha/edge',
        'alpha/review',
      ],
      ['alpha', 'plain'],
    );
    expect(skills.map((s) => s.name)).toEqual(['alpha/edge', 'alpha/review']);
    expect(refused.map((r) => [r.skill, r.reason])).toEqual([
      ['beta/secret', 'not_granted'],
      ['alpha/../beta/secret', 'invalid_name'],
      ['alpha/missing', 'missing'],
      ['plain/review', 'no_skills'],
      ['alpha/big', 'too_large'],
    ]);
    expect(refused[0]!.message).toContain('integration beta is not among');
  });

  it('stops at the total cap: a skill past it is refused, the ones before it kept', async () => {
    const per = Math.floor(SKILLS_TOTAL_MAX_BYTES / 4); // exactly four fit
    const files: Record<string, string> = {};
    for (let i = 1; i <= 6; i += 1) files[`part-${i}.md`] = 'z'.repeat(per);
    const gamma = integration('gamma', files);
    const local: SkillSource = { get: (name) => (name === 'gamma' ? gamma : undefined) };
    const names = Object.keys(files).map((f) => `gamma/${f.replace('.md', '')}`);
    const { skills, refused } = await gatherSkills(local, names, ['gamma']);
    expect(skills).toHaveLength(4);
    expect(refused.map((r) => r.reason)).toEqual(['total_too_large', 'total_too_large']);
  });
});

describe('the context of a task, on a real database', () => {
  const db = useMigratedDatabase();

  async function sessionWith(count: number) {
    const { session } = await createOrGetSession(db().sql, { key: `ctx:${count}:${Date.now()}` });
    for (let i = 1; i <= count; i += 1)
      await insertMessage(db().sql, session.id, {
        role: i % 2 === 0 ? 'agent' : 'user',
        content: i === count ? 'L'.repeat(CONTEXT_MESSAGE_CHARS + 50) : `message ${i}`,
      });
    return session;
  }

  it('cuts 27 messages to the newest CONTEXT_MESSAGES, oldest first, each text bounded', async () => {
    const session = await sessionWith(27);
    const { context } = await gatherAgentContext(
      { sql: db().sql, registry },
      { id: 'x', sessionId: session.id, prompt: 'p', execution: { preamble: 'P' } },
      [],
      AGENT_PRESETS['claude-code'].context,
    );
    expect(CONTEXT_MESSAGES).toBe(20);
    expect(context.history).toHaveLength(CONTEXT_MESSAGES);
    expect(context.history.slice(0, -1).map((m) => m.content)).toEqual(
      Array.from({ length: 19 }, (_, i) => `message ${i + 8}`),
    );
    const ids = context.history.map((m) => BigInt(m.id));
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
    expect(context.history.at(-1)).toMatchObject({
      content: 'L'.repeat(CONTEXT_MESSAGE_CHARS),
      truncated: true,
    });
  });

  it('a profile without agent: gets its preamble before the prompt, nothing read, no event', async () => {
    const session = await sessionWith(3);
    const { task } = await enqueueTask(db().sql, {
      profile: 'scripted',
      prompt: '{"calls": []}',
      sessionId: session.id,
      execution: { preamble: 'Be brief.', skills: ['alpha/review'] },
    });
    const placed = await prepareAgentContext(
      { sql: db().sql, registry, publish: async () => {} },
      task,
      ['alpha'],
      undefined,
      log,
    );
    expect(placed).toEqual({ prompt: 'Be brief.\n\n{"calls": []}', files: [] });
    const events = await db().sql`
      select 1 from task_events where task_id = ${task.id} and type = 'task:context'`;
    expect(events).toHaveLength(0);
  });

  it('Claude Code: CLAUDE.md and a SKILL.md under HOME, the prompt untouched, one task:context event', async () => {
    const session = await sessionWith(25);
    const { task } = await enqueueTask(db().sql, {
      profile: 'claude',
      prompt: 'Review PR #42.',
      sessionId: session.id,
      execution: { preamble: 'You review pull requests.', skills: ['alpha/review', 'beta/secret'] },
    });
    const published: string[] = [];
    const own: string[] = [];
    const placed = await prepareAgentContext(
      {
        sql: db().sql,
        registry,
        publish: async (e) => void published.push(...e.map((x) => x.type)),
      },
      task,
      ['alpha'],
      AGENT_PRESETS['claude-code'].context,
      log,
      (seq) => own.push(seq),
    );
    expect(placed.prompt).toBe('Review PR #42.');
    expect(placed.files.map((f) => f.path)).toEqual([
      '.claude/CLAUDE.md',
      '.claude/skills/alpha-review/SKILL.md',
    ]);
    const [claudeMd, skill] = placed.files.map((f) => f.content);
    expect(claudeMd!.startsWith('You review pull requests.\n\n## Session history')).toBe(true);
    expect(claudeMd).toContain('"content":"message 24"');
    expect(claudeMd).toContain('alpha-review');
    expect(claudeMd).not.toContain('beta only');
    expect(skill).toBe(
      '---\nname: alpha-review\ndescription: "Review a pull request"\n---\n\nRead it, then answer.\n',
    );
    const [event] = await db().sql<{ seq: string; data: Record<string, unknown> }[]>`
      select seq::text, data from task_events where task_id = ${task.id} and type = 'task:context'`;
    expect(event!.data).toEqual({
      into: 'files',
      files: ['.claude/CLAUDE.md', '.claude/skills/alpha-review/SKILL.md'],
      preamble: true,
      historyMessages: 20,
      skills: ['alpha/review'],
      refused: [
        {
          skill: 'beta/secret',
          reason: 'not_granted',
          message: expect.stringContaining('not among'),
        },
      ],
    });
    expect(own).toEqual([event!.seq]);
    expect(published).toEqual(['task:context']);
  });

  it('Codex, goose and generic: AGENTS.md with skills beside it, .goosehints with skills inlined, the prompt', async () => {
    const context = {
      preamble: 'PRE',
      history: [
        { id: '11', role: 'user' as const, content: 'hi', truncated: false, createdAt: 'T' },
      ],
      skills: [{ name: 'alpha/review', integration: 'alpha', skill: 'review', content: 'BODY' }],
    };
    const codex = placeContext(AGENT_PRESETS.codex.context, context, 'TASK');
    expect(codex.prompt).toBe('TASK');
    expect(codex.files.map((f) => f.path)).toEqual([
      '.codex/AGENTS.md',
      '.codex/skills/alpha-review/SKILL.md',
    ]);
    const goose = placeContext(AGENT_PRESETS.goose.context, context, 'TASK');
    expect(goose.files.map((f) => f.path)).toEqual(['.config/goose/.goosehints']);
    expect(goose.files[0]!.content).toContain('## Skill alpha/review\n\nBODY');
    const generic = placeContext(AGENT_PRESETS.generic.context, context, 'TASK');
    expect(generic.files).toEqual([]);
    expect(generic.prompt.startsWith('PRE\n\n## Session history')).toBe(true);
    expect(generic.prompt).toContain('{"id":"11","role":"user","content":"hi"');
    expect(generic.prompt.endsWith('## Skill alpha/review\n\nBODY\n\nTASK')).toBe(true);
    // Nothing to place: no file, the prompt alone.
    const empty = { preamble: undefined, history: [], skills: [] };
    expect(placeContext(AGENT_PRESETS.codex.context, empty, 'TASK')).toEqual({
      prompt: 'TASK',
      files: [],
    });
    expect(placeContext(AGENT_PRESETS.generic.context, empty, 'TASK').prompt).toBe('TASK');
  });
});

describe('the drivers place the context files', () => {
  const bundle = buildBundle({
    publicUrl: 'http://127.0.0.1:8080',
    taskId: 'task-ctx-12',
    token: 'tok',
    integrations: [],
    switchboardServer: { url: 'http://127.0.0.1:8080/mcp/switchboard', token: 'tok-sb' },
  });
  const files = placeContext(
    AGENT_PRESETS['claude-code'].context,
    {
      preamble: 'PREAMBLE-TEXT',
      history: [],
      skills: [{ name: 'alpha/review', integration: 'alpha', skill: 'review', content: 'B' }],
    },
    'p',
  ).files;

  it('process: written 0600 under HOME, read by the agent', async () => {
    const workdir = await writeBundle(bundle, tmp);
    try {
      const lines: OutputLine[] = [];
      const run = await new ProcessRunner({
        driver: 'process',
        command: 'cat',
        args: ['.claude/CLAUDE.md', '{workdir}/.claude/skills/alpha-review/SKILL.md'],
      }).run({
        prompt: 'p',
        files,
        bundle,
        workdir,
        timeoutMs: 10_000,
        onLine: (l) => lines.push(l),
      });
      expect(run).toMatchObject({ reason: 'exited', exitCode: 0 });
      expect(lines.map((l) => l.line)).toContain('PREAMBLE-TEXT');
      expect(lines.map((l) => l.line)).toContain('name: alpha-review');
      const mode = fs.statSync(path.join(workdir, '.claude/CLAUDE.md')).mode & 0o777;
      expect(mode).toBe(0o600);
    } finally {
      await removeWorkdir(workdir);
    }
  });

  it('kubernetes: in the ConfigMap and mounted at the same paths under /workspace', () => {
    const { list } = jobManifest(
      { driver: 'kubernetes', image: 'agent:1', command: 'agent' },
      { prompt: 'p', bundle, timeoutMs: 60_000, files },
    );
    const configMap = list.items.find((i) => i.kind === 'ConfigMap') as unknown as {
      data: Record<string, string>;
    };
    for (const file of files) expect(configMap.data[file.key]).toBe(file.content);
    const job = JSON.stringify(list.items.find((i) => i.kind === 'Job'));
    expect(job).toContain('"mountPath":"/workspace/.claude/CLAUDE.md"');
    expect(job).toContain('"mountPath":"/workspace/.claude/skills/alpha-review/SKILL.md"');
  });
});
