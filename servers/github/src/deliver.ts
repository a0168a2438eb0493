import * as z from 'zod';
import type { Comment, GitHubApi } from './github-api.ts';
import { RepoName } from './github-api.ts';
import { SWITCHBOARD_MARKER } from './webhook.ts';

/** GitHub rejects comment bodies over 65,536 characters; leave room for the marker. */
const MAX_COMMENT_CHARS = 65_000;

/**
 * What the gateway's dispatcher sends `deliver`: the finished task, its session and the
 * dispatch the trigger asked for. Unknown fields are allowed (the gateway may add more).
 */
export const DeliverInput = z.object({
  task: z.looseObject({
    id: z.string(),
    status: z.string().optional(),
    result: z.unknown().optional(),
    error: z.unknown().optional(),
  }),
  session: z.looseObject({ id: z.string().optional(), key: z.string().optional() }).optional(),
  dispatch: z.object({
    type: z.literal('github'),
    config: z.object({ repo: RepoName, number: z.number().int().positive() }),
  }),
});
export type DeliverInput = z.infer<typeof DeliverInput>;

function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  return `\`\`\`json\n${JSON.stringify(value, null, 2)}\n\`\`\``;
}

export function commentFor(task: DeliverInput['task']): string {
  const failed = task.error !== undefined && task.error !== null;
  const text = failed
    ? `Task ${task.id} failed: ${asText(task.error)}`
    : asText(task.result ?? `Task ${task.id} finished without a result.`);
  const clipped = text.length > MAX_COMMENT_CHARS ? `${text.slice(0, MAX_COMMENT_CHARS)}…` : text;
  return `${clipped}\n\n${SWITCHBOARD_MARKER}`;
}

export function deliver(api: GitHubApi, input: DeliverInput): Promise<Comment> {
  const { repo, number } = input.dispatch.config;
  return api.createComment(repo, number, commentFor(input.task));
}
