import fs from 'node:fs/promises';
import path from 'node:path';
import type { Manifest } from '@switchboard/sdk';
import { outsideFolder } from './folder-pin.ts';

/**
 * An integration's skills (issue 15): the `*.md` files of the folder its manifest names as
 * `skills:` (docs/manifest.md), asked for by a task as `<integration>/<skill>` (a trigger's
 * `execution.skills`). This file reads one skill of one integration and nothing else: whether
 * the task may have it (its integration granted) is the caller's (tasks/agent-context.ts).
 *
 * A skill is read at task start from the live folder, so the checks of judgement are made
 * again here: the skills folder and the file must really be in the integration folder (a
 * symlink out of it, or into `.data`/`.git`, is refused: folder-pin.ts outsideFolder), the file
 * must be a regular file, and it is read with a size cap.
 */

/**
 * `<integration>/<skill>`: an integration name (sdk INTEGRATION_NAME's characters) and a file
 * name without `.md` of lowercase letters, digits, `-` and `_`, one `/` between them. No `.`
 * anywhere, so no `..`, no hidden file and no second extension.
 */
export const SKILL_NAME = /^([a-z][a-z0-9-]*)\/([a-z0-9][a-z0-9_-]*)$/;
/**
 * The name an agent knows the skill by, `<integration>-<skill>`, is at most 64 characters:
 * Claude Code's limit for a skill's `name` (and the folder it lives in).
 */
export const SKILL_AGENT_NAME_MAX = 64;
/** One skill file at most (64 KiB: a long how-to, about 16k tokens). */
export const SKILL_MAX_BYTES = 64 * 1024;

export interface SkillName {
  integration: string;
  skill: string;
}

export type SkillRefusal =
  | 'invalid_name'
  | 'not_granted'
  | 'no_skills'
  | 'missing'
  | 'symlink_escape'
  | 'not_a_file'
  | 'too_large';

export type SkillRead =
  | { ok: true; content: string; bytes: number }
  | { ok: false; reason: SkillRefusal; message: string };

/** The two parts of a skill name, or why it is not one. */
export function parseSkillName(name: string): SkillName | { error: string } {
  const match = SKILL_NAME.exec(name);
  if (!match)
    return {
      error: `expected <integration>/<skill> of [a-z0-9-_] with one "/" (no ".", no other "/"); found ${JSON.stringify(name.slice(0, 200))}`,
    };
  const [, integration, skill] = match as unknown as [string, string, string];
  if (integration.length + 1 + skill.length > SKILL_AGENT_NAME_MAX)
    return {
      error: `${name}: expected at most ${SKILL_AGENT_NAME_MAX} characters for "<integration>-<skill>" (an agent's skill name)`,
    };
  return { integration, skill };
}

const refuse = (reason: SkillRefusal, message: string): SkillRead => ({
  ok: false,
  reason,
  message,
});

async function realpathOrUndefined(p: string): Promise<string | undefined> {
  try {
    return await fs.realpath(p);
  } catch {
    return undefined;
  }
}

/**
 * Reads `<dir>/<manifest.skills>/<skill>.md` of one integration, at most `maxBytes`. `skill`
 * must be the second part of a parsed name (parseSkillName): it is used as a file name as is.
 */
export async function readSkill(
  integration: { name: string; dir: string; manifest: Pick<Manifest, 'skills'> | undefined },
  skill: string,
  maxBytes: number = SKILL_MAX_BYTES,
): Promise<SkillRead> {
  const label = `${integration.name}/${skill}`;
  const folder = integration.manifest?.skills;
  if (folder === undefined)
    return refuse('no_skills', `${label}: integration ${integration.name} declares no skills`);
  const root = await realpathOrUndefined(integration.dir);
  const skillsDir = path.resolve(integration.dir, folder);
  const skillsReal = await realpathOrUndefined(skillsDir);
  if (root === undefined || skillsReal === undefined)
    return refuse('missing', `${label}: the skills folder ${folder} does not exist`);
  if (outsideFolder(root, skillsReal))
    return refuse(
      'symlink_escape',
      `${label}: the skills folder ${folder} resolves outside the integration folder's files`,
    );
  const real = await realpathOrUndefined(path.join(skillsDir, `${skill}.md`));
  if (real === undefined) return refuse('missing', `${label}: no file ${folder}/${skill}.md`);
  // Inside the skills folder itself, not merely the integration's: a skill is what the
  // manifest offers as one, never its code, settings or another folder's files.
  const inSkills = path.relative(skillsReal, real);
  if (inSkills === '' || inSkills.startsWith('..') || path.isAbsolute(inSkills))
    return refuse(
      'symlink_escape',
      `${label}: ${folder}/${skill}.md resolves outside the skills folder`,
    );
  // O_NONBLOCK: a FIFO planted as a skill must not hang the worker in open(); O_NOFOLLOW: the
  // resolved path is opened, never a symlink swapped in since.
  const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (error) {
    return refuse('missing', `${label}: cannot open: ${(error as Error).message}`);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return refuse('not_a_file', `${label}: not a regular file`);
    const tooLarge = () =>
      refuse('too_large', `${label}: more than ${maxBytes} bytes (found ${stat.size})`);
    if (stat.size > maxBytes) return tooLarge();
    // One byte more than allowed: a file that grew since the stat is still caught.
    const buffer = Buffer.alloc(maxBytes + 1);
    let bytes = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, bytes, buffer.length - bytes, bytes);
      if (bytesRead === 0) break;
      bytes += bytesRead;
      if (bytes > maxBytes) return tooLarge();
    }
    return { ok: true, content: buffer.subarray(0, bytes).toString('utf8'), bytes };
  } finally {
    await handle.close();
  }
}

/**
 * Skills listed per integration at most (50): a listing reads each file for its description, so
 * one resources/list reads at most 50 × SKILL_MAX_BYTES (3.2 MiB) per integration; a folder of
 * more is cut at the first 50 by name (they still work by name in a task's execution.skills).
 */
export const SKILLS_LISTED_MAX = 50;

/**
 * The skill names (`<skill>` of `<integration>/<skill>`) of an integration's skills folder: its
 * `*.md` files whose name is a valid skill name, by name, at most `max`. Only names: whether
 * each can be read (a symlink out of the folder, a FIFO, too large) is readSkill's to say.
 */
export async function listSkillNames(
  integration: { name: string; dir: string; manifest: Pick<Manifest, 'skills'> | undefined },
  max: number = SKILLS_LISTED_MAX,
): Promise<string[]> {
  const folder = integration.manifest?.skills;
  if (folder === undefined) return [];
  let entries: string[];
  try {
    entries = await fs.readdir(path.resolve(integration.dir, folder));
  } catch {
    return [];
  }
  return entries
    .filter((file) => file.endsWith('.md'))
    .map((file) => file.slice(0, -3))
    .filter((skill) => {
      const parsed = parseSkillName(`${integration.name}/${skill}`);
      return !('error' in parsed);
    })
    .sort()
    .slice(0, max);
}
