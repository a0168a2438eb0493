import { parse as parseYaml } from 'yaml';

/**
 * One skill file of an integration as an Agent Skills `SKILL.md` (agentskills.io): front matter
 * with `name` and `description`, then the file's body. The one rendering of a skill, used both
 * where a task's agent reads skills from its working folder (runners/context-files.ts) and where
 * any agent reads them as MCP resources (mcp/skills.ts, the MCP skills extension's
 * `skill://<name>/SKILL.md`), so the two never differ.
 *
 * The name is `<integration>-<skill>` with `_` as `-`: unique across integrations (the aggregate
 * /mcp lists all of theirs), and of the characters Agent Skills names allow ([a-z0-9-]).
 */

/** Claude Code's (and Agent Skills') limit for a skill's description (characters). */
const DESCRIPTION_MAX = 1024;

export function agentSkillName(skill: { integration: string; skill: string }): string {
  return `${skill.integration}-${skill.skill.replaceAll('_', '-')}`;
}

/** A skill file's own front matter (`---` lines) split off its body; a broken one stays body. */
export function splitFrontMatter(content: string): { description?: string; body: string } {
  const match = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(content);
  if (!match) return { body: content };
  try {
    const meta = parseYaml(match[1]!) as unknown;
    const description =
      meta !== null && typeof meta === 'object' && 'description' in meta
        ? (meta as { description: unknown }).description
        : undefined;
    return {
      ...(typeof description === 'string' ? { description } : {}),
      body: content.slice(match[0].length),
    };
  } catch {
    return { body: content };
  }
}

/** One line, no control characters, at most DESCRIPTION_MAX characters. */
function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what goes
  const flat = text.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').trim();
  return flat.length > DESCRIPTION_MAX ? `${flat.slice(0, DESCRIPTION_MAX - 1)}…` : flat;
}

export interface SkillDocument {
  name: string;
  description: string;
  /** The SKILL.md: front matter made here (the description JSON-quoted, valid YAML), the body. */
  text: string;
}

/**
 * The description is the file's own front-matter `description`, else its first line, else a
 * sentence naming it. Any other front matter of the file is not carried over: the gateway
 * writes the front matter, so a file cannot set fields (`allowed-tools`) an agent would act on.
 */
export function skillDocument(skill: {
  integration: string;
  skill: string;
  content: string;
}): SkillDocument {
  const { description, body } = splitFrontMatter(skill.content);
  const firstLine = body
    .split('\n')
    .map((l) => l.replace(/^#+\s*/, '').trim())
    .find((l) => l !== '');
  const text = oneLine(
    description ?? firstLine ?? `Skill ${skill.skill} of the ${skill.integration} integration`,
  );
  const name = agentSkillName(skill);
  return {
    name,
    description: text,
    text: `---\nname: ${name}\ndescription: ${JSON.stringify(text)}\n---\n\n${body.replace(/^(\s*\n)+/, '')}`,
  };
}
