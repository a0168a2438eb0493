import {
  ProtocolError,
  ProtocolErrorCode,
  type ReadResourceResult,
  type Resource,
  type Server,
  type ServerCapabilities,
} from '@modelcontextprotocol/server';
import {
  type GetSkillResult,
  type ListSkillsResult,
  SKILLS_EXTENSION_ID,
  SKILLS_GET_METHOD,
  SKILLS_LIST_METHOD,
  type Skill,
  skillEntry,
} from '@modelcontextprotocol/server/ext/skills';
import { z } from 'zod';
import type { Integration } from '../integrations/registry.ts';
import { skillDocument } from '../integrations/skill-document.ts';
import { listSkillNames, readSkill } from '../integrations/skills.ts';
import { paginate } from './cursors.ts';
import type { Era } from './era-results.ts';

/**
 * Integrations' skills (the manifest's `skills:` folder) served by the MCP skills extension
 * (SEP-2640, `io.modelcontextprotocol/skills`): each skill is `skill://<name>/SKILL.md`, a
 * resource listed in resources/list (`name`, `description`, `mimeType: text/markdown`) and read
 * with resources/read, and an entry of the extension's `skills/list` / `skills/get` (`uri`,
 * `frontmatter`, `resources: [{uri, digest, size}]`). `<name>` is `<integration>-<skill>`
 * (integrations/skill-document.ts), the name the task's agent already knows it by in its skills
 * folder, and the front matter of the served SKILL.md says the same `name` and `description`.
 * The gateway answers all of these itself; they are never forwarded. This file is their one
 * owner: resources.ts, task-tools.ts and the extension methods below all read servedSkills().
 *
 * Who sees them: the view's visible integrations (mcp/view.ts), i.e. a token whose scope covers
 * any tool of the integration — a skill is how to use those tools, the same rule as a task's
 * `execution.skills` (tasks/agent-context.ts). A skill here is one file (its SKILL.md), so an
 * entry's `resources` lists that file alone and `resources/directory/read` (optional in the
 * extension, `directoryRead`) is not offered: a skill folder has no subfolder to walk.
 *
 * The SDK's SkillsExtension/SkillCatalog serve one fixed catalog through an McpServer's resource
 * template; the gateway builds a low-level Server per request whose skills depend on the token,
 * so it registers the methods itself and builds each entry with the SDK's `skillEntry` (digest,
 * size, frontmatter as the SDK's own parser reads it, and the extension's naming rules).
 */

export const SKILL_MIME_TYPE = 'text/markdown';

export interface ServedSkill {
  integration: string;
  skill: string;
  name: string;
  description: string;
  uri: string;
  text: string;
  /** The extension's entry: uri, frontmatter, resources (the SKILL.md's sha256 digest and size). */
  entry: Skill;
}

export const skillUri = (name: string) => `skill://${name}/SKILL.md`;

/**
 * The readable skills of `items`, by integration then name. Unreadable files are left out, and
 * so is a skill the extension would refuse (skillEntry: a name that is not an Agent Skills name,
 * a description over 1024 characters), so resources/list and skills/list always agree.
 */
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
          let entry: Skill;
          try {
            entry = await skillEntry(doc.name, { 'SKILL.md': doc.text });
          } catch {
            continue;
          }
          out.push({ integration: item.name, skill, ...doc, uri: entry.uri, entry });
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

/**
 * The extension's capability entry. Declared only by a server whose view has an integration
 * with a `skills` folder (server.ts), never always: declaring it commits the server to both
 * methods and to the `resources` capability (the skill files are read with resources/read),
 * and a view without skills has nothing to serve through them. A declared folder that turns
 * out empty answers an empty list, which the extension allows. `{}`: no `directoryRead`.
 */
export const SKILLS_CAPABILITY: NonNullable<ServerCapabilities['extensions']> = {
  [SKILLS_EXTENSION_ID]: {},
};

/**
 * `ttlMs` / `cacheScope` (SEP-2549, on skills/list and skills/get from 2026-07-28 on, as the SDK
 * sends them; a 2025-era client gets neither, like era-results.ts forEra). `private`: the list
 * is the token's (its scope). `ttlMs: 0`: no reuse, as the SDK's default; a skill file edited
 * in its folder is served at once and no list_changed tells a client that cached it.
 */
const CACHE = { ttlMs: 0, cacheScope: 'private' } as const;

const listParams = z.looseObject({ cursor: z.string().optional() });
/** The URI of a skill's SKILL.md; 2048 characters: far above any `skill://<64 chars>/SKILL.md`. */
const getParams = z.looseObject({ uri: z.string().max(2048) });

/**
 * `skills/list` (paged like the gateway's other lists, cursors.ts; an entry is never split) and
 * `skills/get` over the skills of `items`, the view's integrations with a skills folder. A URI
 * that is not one of them, another integration's skill included, answers -32602 as the
 * extension says for a skill the server does not serve, so the answer tells nothing of others.
 */
export function registerSkills(
  server: Server,
  items: readonly Integration[],
  era: Era,
  pageSize: number,
): void {
  const cache = era === 'modern' ? CACHE : {};
  server.setRequestHandler(
    SKILLS_LIST_METHOD,
    { params: listParams },
    async (params): Promise<ListSkillsResult> => {
      const entries = (await servedSkills(items)).map((s) => s.entry);
      const { page, nextCursor } = paginate('skills', entries, params.cursor, pageSize);
      return {
        skills: page,
        ...(nextCursor !== undefined && { nextCursor }),
        ...cache,
      } as ListSkillsResult;
    },
  );
  server.setRequestHandler(
    SKILLS_GET_METHOD,
    { params: getParams },
    async (params): Promise<GetSkillResult> => {
      const skill = params.uri.startsWith('skill://')
        ? (await servedSkills(items)).find((s) => s.uri === params.uri)
        : undefined;
      if (!skill) {
        throw new ProtocolError(
          ProtocolErrorCode.InvalidParams,
          `No skill is served at ${params.uri.slice(0, 200)}`,
        );
      }
      return { skill: skill.entry, ...cache } as GetSkillResult;
    },
  );
}
