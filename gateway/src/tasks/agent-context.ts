import type { Sql } from '../db/connect.ts';
import { insertTaskEvent } from '../events/store.ts';
import type { PublishTaskEvents } from '../events/task-events.ts';
import { agentSkillName } from '../integrations/skill-document.ts';
import { parseSkillName, readSkill, type SkillRefusal } from '../integrations/skills.ts';
import type { Logger } from '../log.ts';
import {
  type AgentContext,
  type AgentFile,
  type ContextPlacement,
  type ContextSkill,
  placeContext,
} from '../runners/context-files.ts';
import { contextHistory } from '../sessions/history.ts';

/**
 * A task's context for its agent (issue 15): its preamble, its session's newest messages
 * (sessions/history.ts, the bounds of task_context) and the skills its execution asks for,
 * placed where its agent reads them (runners/context-files.ts, by the preset's `context`).
 *
 * A skill `<integration>/<skill>` is read only from an integration in the task's grant (the
 * servers its agent was given), never another's: a trigger of one integration cannot hand an
 * agent the text of an integration it was not granted. A skill that cannot be had (bad name,
 * not granted, missing, a symlink out of the folder, too large) is left out, logged and named
 * in the task's `task:context` event with the reason; the agent still runs.
 */

/**
 * All skills of one task together at most (256 KiB, four full skills): with a 100,000-character
 * preamble and 40,000 of history the context stays well under a kubernetes ConfigMap's 1 MiB.
 */
export const SKILLS_TOTAL_MAX_BYTES = 256 * 1024;

export interface RefusedSkill {
  skill: string;
  reason: SkillRefusal | 'duplicate' | 'total_too_large';
  message: string;
}

/** The one thing of the integration registry used here: an integration's folder and manifest. */
export interface SkillSource {
  get(name: string): Parameters<typeof readSkill>[0] | undefined;
}

export interface AgentContextDeps {
  sql: Sql;
  registry: SkillSource;
}

interface TaskInput {
  id: string;
  sessionId: string | null;
  prompt: string;
  execution: unknown;
}

function executionOf(task: TaskInput): { preamble?: string; skills: string[] } {
  // tasks.execution was validated on the way in (queue.ts Execution); read it defensively all
  // the same, since rows written before a field existed lack it.
  const e = (task.execution ?? {}) as { preamble?: unknown; skills?: unknown };
  const skills = Array.isArray(e.skills) ? e.skills.filter((s) => typeof s === 'string') : [];
  return {
    ...(typeof e.preamble === 'string' && e.preamble !== '' ? { preamble: e.preamble } : {}),
    skills,
  };
}

/** The skills of `names` the task may have, each read once; the others with their reason. */
export async function gatherSkills(
  registry: AgentContextDeps['registry'],
  names: readonly string[],
  granted: readonly string[],
  totalMaxBytes: number = SKILLS_TOTAL_MAX_BYTES,
): Promise<{ skills: ContextSkill[]; refused: RefusedSkill[] }> {
  const skills: ContextSkill[] = [];
  const refused: RefusedSkill[] = [];
  const seen = new Set<string>();
  const allowed = new Set(granted);
  let total = 0;
  for (const name of names) {
    const parsed = parseSkillName(name);
    if ('error' in parsed) {
      refused.push({ skill: name.slice(0, 200), reason: 'invalid_name', message: parsed.error });
      continue;
    }
    const agentName = agentSkillName(parsed);
    if (seen.has(agentName)) {
      refused.push({
        skill: name,
        reason: 'duplicate',
        message: `${name}: asked for twice (or as ${agentName} by another spelling)`,
      });
      continue;
    }
    seen.add(agentName);
    const integration = allowed.has(parsed.integration)
      ? registry.get(parsed.integration)
      : undefined;
    if (integration === undefined) {
      refused.push({
        skill: name,
        reason: 'not_granted',
        message: `${name}: integration ${parsed.integration} is not among the task's granted integrations (${[...allowed].join(', ') || 'none'})`,
      });
      continue;
    }
    const read = await readSkill(integration, parsed.skill);
    if (!read.ok) {
      refused.push({ skill: name, reason: read.reason, message: read.message });
      continue;
    }
    if (total + read.bytes > totalMaxBytes) {
      refused.push({
        skill: name,
        reason: 'total_too_large',
        message: `${name}: the task's skills would pass ${totalMaxBytes} bytes together`,
      });
      continue;
    }
    total += read.bytes;
    skills.push({ name, ...parsed, content: read.content });
  }
  return { skills, refused };
}

/**
 * What the preset's placement uses of the task: a profile without `agent:` (placement
 * undefined) gets its preamble only, as before issue 15; nothing else is read for it.
 */
export async function gatherAgentContext(
  deps: AgentContextDeps,
  task: TaskInput,
  granted: readonly string[],
  placement: ContextPlacement | undefined,
): Promise<{ context: AgentContext; refused: RefusedSkill[] }> {
  const { preamble, skills: names } = executionOf(task);
  if (placement === undefined)
    return { context: { preamble, history: [], skills: [] }, refused: [] };
  const history = await contextHistory(deps.sql, task.sessionId);
  const { skills, refused } = await gatherSkills(deps.registry, names, granted);
  return { context: { preamble, history, skills }, refused };
}

export interface PrepareDeps extends AgentContextDeps {
  publish: PublishTaskEvents;
}

/**
 * The prompt and context files of one run, and its `task:context` event (what was placed
 * where, which skills were refused and why) for an agent preset. `wrote` gets the event's seq,
 * so the worker ignores its own notice.
 */
export async function prepareAgentContext(
  deps: PrepareDeps,
  task: TaskInput,
  granted: readonly string[],
  placement: ContextPlacement | undefined,
  log: Logger,
  wrote: (seq: string) => void = () => {},
): Promise<{ prompt: string; files: AgentFile[] }> {
  const { context, refused } = await gatherAgentContext(deps, task, granted, placement);
  const placed = placeContext(placement, context, task.prompt);
  if (placement === undefined) return placed;
  for (const r of refused)
    log.warn({ skill: r.skill, reason: r.reason, why: r.message }, 'skill left out of the task');
  const event = await insertTaskEvent(deps.sql, {
    taskId: task.id,
    type: 'task:context',
    data: {
      into: placement.into,
      files: placed.files.map((f) => f.path),
      preamble: context.preamble !== undefined,
      historyMessages: context.history.length,
      skills: context.skills.map((s) => s.name),
      refused,
    },
  });
  wrote(event.seq);
  await deps.publish([event]);
  return placed;
}
