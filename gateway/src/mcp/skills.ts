import type { ReadResourceResult, Resource } from '@modelcontextprotocol/server';
import type { Integration } from '../integrations/registry.ts';
import { skillDocument } from '../integrations/skill-document.ts';
import { listSkillNames, readSkill } from '../integrations/skills.ts';

/**
 * Integrations' skills (the manifest's `skills:` folder) as MCP resources, the way the MCP skills
 * extension (SEP-2640, io.modelcontextprotocol/skills) maps Agent Skills onto resources: each
 * skill is `skill://<name>/SKILL.md`, listed in resources/list with its `name`, its
 * `description` and `mimeType: text/markdown`, and read with resources/read. `<name>` is
 * `<integration>-<skill>` (integrations/skill-document.ts), the name the task's agent already
 * knows it by in its skills folder, and the front matter of the served SKILL.md says the same
 * `name` and `description`. The gateway answers these itself; they are never forwarded.
 *
 * Who sees them: the view's visible integrations (mcp/view.ts), i.e. a token whose scope covers
 * any tool of the integration — a skill is how to use those tools, the same rule as a task's
 * `execution.skills` (tasks/agent-context.ts). Not implemented from the extension: its
 * `skills/list` / `skills/get` methods and the `extensions` capability (needs SDK support for
 * extension methods), and skills of more than one file (a skill here is one `.md` file).
 */

export const SKILL_MIME_TYPE = 'text/markdown';

/** Agent Skills names: lowercase letters and digits in groups joined by single hyphens. */
const AGENT_SKILL_NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

export interface ServedSkill {
  integration: string;
  skill: string;
  name: string;
  description: string;
  uri: string;
  text: string;
}

export const skillUri = (name: string) => `skill://${name}/SKILL.md`;

/** The readable skills of `items`, by integration then name. Unreadable files are left out. */
export async function servedSkills(items: readonly Integration[]): Promise<ServedSkill[]> {
  const lists = await Promise.all(
    items
      .filter((item) => item.manifest?.skills !== undefined)
      .map(async (item) => {
        const out: ServedSkill[] = [];
        for (const skill of await listSkillNames(item)) {
          const read = await readSkill(item, skill);
          if (!read.ok) continue;
          const doc = skillDocument({ integration: item.name, skill, content: read.content });
          if (!AGENT_SKILL_NAME.test(doc.name)) continue;
          out.push({ integration: item.name, skill, ...doc, uri: skillUri(doc.name) });
        }
        return out;
      }),
  );
  return lists.flat();
}

export function skillResource(skill: ServedSkill): Resource {
  return {
    uri: skill.uri,
    name: skill.name,
    description: skill.description,
    mimeType: SKILL_MIME_TYPE,
    size: Buffer.byteLength(skill.text),
  };
}

/** resources/read of a skill URI, or undefined when `uri` is none of `items`' skills. */
export async function readSkillResource(
  items: readonly Integration[],
  uri: string,
): Promise<ReadResourceResult | undefined> {
  if (!uri.startsWith('skill://')) return undefined;
  const skill = (await servedSkills(items)).find((s) => s.uri === uri);
  if (!skill) return undefined;
  return { contents: [{ uri, mimeType: SKILL_MIME_TYPE, text: skill.text }] };
}
