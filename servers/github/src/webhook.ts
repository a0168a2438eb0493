import {
  trigger as checkedTrigger,
  type HandlerResult,
  type Trigger,
  type WebhookInput,
} from '@switchboard/sdk';
import * as z from 'zod';

/**
 * Marker appended to every comment this integration posts. GitHub sends `issue_comment` for our
 * own comments too; without the marker a delivered result would start a new task, forever.
 */
export const SWITCHBOARD_MARKER = '<!-- switchboard -->';

/** PR bodies and comments can be 65,536 chars; the message keeps the first 4,000 for the agent. */
const MAX_MESSAGE_BODY_CHARS = 4_000;

const Repository = z.object({ full_name: z.string() });
const Sender = z.object({ login: z.string(), type: z.string().optional() });

const PullRequestOpened = z.object({
  action: z.literal('opened'),
  repository: Repository,
  sender: Sender,
  pull_request: z.object({
    number: z.number(),
    title: z.string(),
    body: z.string().nullable(),
    html_url: z.string(),
  }),
});

const IssueCommentCreated = z.object({
  action: z.literal('created'),
  repository: Repository,
  sender: Sender,
  issue: z.object({ number: z.number(), title: z.string(), pull_request: z.unknown().optional() }),
  comment: z.object({ body: z.string(), html_url: z.string(), user: Sender }),
});

function clip(text: string): string {
  return text.length > MAX_MESSAGE_BODY_CHARS ? `${text.slice(0, MAX_MESSAGE_BODY_CHARS)}…` : text;
}

/**
 * One session per issue or PR, so a comment lands in the conversation its PR started; the
 * dispatcher posts the result back to the same thread.
 */
function trigger(
  repo: string,
  number: number,
  message: string,
  preamble: string,
  skills?: string[],
): Trigger {
  return checkedTrigger({
    session: {
      key: `github:${repo}#${number}`,
      dispatch: { type: 'github', config: { repo, number } },
    },
    message,
    run: true,
    execution: {
      preamble,
      tools: ['github:get_pr', 'github:list_issues', 'github:comment'],
      // skills/<name>.md of this folder, placed where the agent reads skills (docs/agents.md).
      ...(skills ? { skills } : {}),
    },
  });
}

/** Turns a verified GitHub delivery into triggers: PR opened and comment created; others ignored. */
export function handleWebhook(input: WebhookInput): HandlerResult {
  // The gateway passes header names lowercased and the body as the raw (verified) text.
  const event = input.headers['x-github-event'];
  const payload: unknown = JSON.parse(input.body);

  if (event === 'pull_request') {
    const parsed = PullRequestOpened.safeParse(payload);
    if (!parsed.success) return { triggers: [] };
    const { repository, pull_request: pr, sender } = parsed.data;
    return {
      triggers: [
        trigger(
          repository.full_name,
          pr.number,
          `PR #${pr.number} opened by @${sender.login}: ${pr.title}\n${pr.html_url}\n\n${clip(pr.body ?? '')}`,
          `Review pull request #${pr.number} in ${repository.full_name}. Read it with github:get_pr.`,
          ['github/review'],
        ),
      ],
    };
  }

  if (event === 'issue_comment') {
    const parsed = IssueCommentCreated.safeParse(payload);
    if (!parsed.success) return { triggers: [] };
    const { repository, issue, comment } = parsed.data;
    if (comment.user.type === 'Bot' || comment.body.includes(SWITCHBOARD_MARKER))
      return { triggers: [] };
    const kind = issue.pull_request === undefined ? 'issue' : 'PR';
    return {
      triggers: [
        trigger(
          repository.full_name,
          issue.number,
          `@${comment.user.login} commented on ${kind} #${issue.number} (${issue.title}):\n${clip(comment.body)}\n${comment.html_url}`,
          `Answer the comment on ${kind} #${issue.number} in ${repository.full_name}.`,
        ),
      ],
    };
  }

  return { triggers: [] };
}
