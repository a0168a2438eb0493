import type { CallToolResult, McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';
import { DeliverInput, deliver } from './deliver.ts';
import { type GitHubApi, RepoName } from './github-api.ts';
import { handleSchedule, ScheduleInput } from './schedule.ts';
import { handleWebhook, SWITCHBOARD_MARKER, WebhookInput } from './webhook.ts';

function ok(text: string, structuredContent: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent };
}

/** API and parse failures become isError results: the caller (agent or gateway) reads why. */
async function guarded(run: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await run();
  } catch (error) {
    return { content: [{ type: 'text', text: (error as Error).message }], isError: true };
  }
}

const IssueNumber = z.number().int().positive();

export function registerTools(
  server: McpServer,
  api: GitHubApi,
  /** GITHUB_TRIAGE_REPOS: what on_schedule's nightly-triage looks at. */
  triageRepos: readonly string[] = [],
): void {
  server.registerTool(
    'get_pr',
    {
      description: 'Read one pull request',
      inputSchema: z.object({ repo: RepoName, number: IssueNumber }),
      annotations: { readOnlyHint: true },
    },
    ({ repo, number }) =>
      guarded(async () => {
        const pr = await api.getPull(repo, number);
        return ok(
          `#${pr.number} ${pr.title} [${pr.state}] by @${pr.author}\n${pr.url}\n\n${pr.body}`,
          pr,
        );
      }),
  );

  server.registerTool(
    'list_issues',
    {
      description: 'List issues (and pull requests) of a repository, newest first, at most 100',
      inputSchema: z.object({
        repo: RepoName,
        state: z.enum(['open', 'closed', 'all']).default('open'),
      }),
      annotations: { readOnlyHint: true },
    },
    ({ repo, state }) =>
      guarded(async () => {
        const issues = await api.listIssues(repo, state);
        const lines = issues.map((i) => `#${i.number} ${i.title} [${i.state}]`);
        return ok(lines.join('\n') || `No ${state} issues in ${repo}.`, { issues });
      }),
  );

  server.registerTool(
    'comment',
    {
      description: 'Comment on an issue or pull request',
      inputSchema: z.object({
        repo: RepoName,
        number: IssueNumber,
        body: z.string().min(1).max(65_000),
      }),
    },
    ({ repo, number, body }) =>
      guarded(async () => {
        // Marked like deliver's comments: the webhook ignores marked comments, so the agent's own
        // comment does not come back as a new issue_comment task (a token's author is a User).
        const comment = await api.createComment(repo, number, `${body}\n\n${SWITCHBOARD_MARKER}`);
        return ok(`Commented: ${comment.url}`, comment);
      }),
  );

  server.registerTool(
    'on_webhook',
    {
      description: 'Gateway only: turn a verified GitHub delivery into triggers',
      inputSchema: WebhookInput,
    },
    (input) =>
      guarded(async () => {
        const result = handleWebhook(input);
        return ok(`${result.triggers.length} trigger(s)`, result);
      }),
  );

  server.registerTool(
    'deliver',
    {
      description: 'Gateway only: post a finished task result as a comment',
      inputSchema: DeliverInput,
    },
    (input) =>
      guarded(async () => {
        const comment = await deliver(api, input);
        return ok(`Delivered: ${comment.url}`, { delivered: true, ...comment });
      }),
  );

  server.registerTool(
    'on_schedule',
    {
      description: 'Gateway only: turn a schedule fire (nightly-triage) into triggers',
      inputSchema: ScheduleInput,
    },
    (input) =>
      guarded(async () => {
        const result = await handleSchedule(api, triageRepos, input);
        return ok(`${result.triggers.length} trigger(s)`, result);
      }),
  );
}
