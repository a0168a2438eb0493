import type { CallToolResult, McpServer, ServerContext } from '@modelcontextprotocol/server';
import type { WebhookInput } from '@switchboard/sdk';
import { registerWebhookHandler } from '@switchboard/sdk/server';
import { inToolCallSpan } from '@switchboard/sdk/tracing';
import * as z from 'zod';
import { DeliverInput, deliver } from './deliver.ts';
import type { PullRequestDocuments } from './documents.ts';
import { type GitHubApi, RepoName } from './github-api.ts';
import { OpenPulls } from './panels.ts';
import { handleSchedule, ScheduleInput } from './schedule.ts';
import { handleWebhook, SWITCHBOARD_MARKER } from './webhook.ts';

function ok(text: string, structuredContent: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent };
}

/**
 * Runs one tool call: in a `tools/call <tool>` span continuing the caller's trace (the request's
 * `_meta.traceparent`), its GitHub calls its children; API and parse failures become isError
 * results, so the caller (agent or gateway) reads why, and the span is marked failed.
 */
function guarded(
  tool: string,
  ctx: Pick<ServerContext, 'mcpReq'>,
  run: () => Promise<CallToolResult>,
): Promise<CallToolResult> {
  return inToolCallSpan(tool, ctx.mcpReq._meta, async () => {
    try {
      return await run();
    } catch (error) {
      return { content: [{ type: 'text', text: (error as Error).message }], isError: true };
    }
  });
}

const IssueNumber = z.number().int().positive();

/** pull_request deliveries feed the open-prs panel; anything else (or unparsable) is skipped. */
function notePullRequest(
  openPulls: OpenPulls,
  documents: PullRequestDocuments | undefined,
  input: WebhookInput,
): void {
  if (input.headers['x-github-event'] !== 'pull_request') return;
  try {
    const payload = JSON.parse(input.body);
    openPulls.note(payload);
    // Its description into the gateway's documents (documents.ts), after this handler answers.
    documents?.note(payload);
  } catch {
    // handleWebhook already parsed it; a body that does not parse has no PR to note.
  }
}

export function registerTools(
  server: McpServer,
  api: GitHubApi,
  /** GITHUB_TRIAGE_REPOS: what on_schedule's nightly-triage looks at. */
  triageRepos: readonly string[] = [],
  /** What the open-prs panel shows: shared by every connection of this process. */
  openPulls: OpenPulls = new OpenPulls(),
  /** PR descriptions to the gateway's documents (when it gave this process an API key). */
  documents?: PullRequestDocuments,
): void {
  server.registerTool(
    'get_pr',
    {
      description: 'Read one pull request',
      inputSchema: z.object({ repo: RepoName, number: IssueNumber }),
      annotations: { readOnlyHint: true },
    },
    ({ repo, number }, ctx) =>
      guarded('get_pr', ctx, async () => {
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
    ({ repo, state }, ctx) =>
      guarded('list_issues', ctx, async () => {
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
    ({ repo, number, body }, ctx) =>
      guarded('comment', ctx, async () => {
        // Marked like deliver's comments: the webhook ignores marked comments, so the agent's own
        // comment does not come back as a new issue_comment task (a token's author is a User).
        const comment = await api.createComment(repo, number, `${body}\n\n${SWITCHBOARD_MARKER}`);
        return ok(`Commented: ${comment.url}`, comment);
      }),
  );

  registerWebhookHandler(
    server,
    'on_webhook',
    (input) => {
      const result = handleWebhook(input);
      notePullRequest(openPulls, documents, input);
      return result;
    },
    { description: 'Gateway only: turn a verified GitHub delivery into triggers' },
  );

  server.registerTool(
    'panel_open_prs',
    {
      description:
        'Gateway only: the open-prs panel, pull requests opened (per webhook) and not closed since the server started',
      inputSchema: z.object({ panel: z.string().optional() }),
      annotations: { readOnlyHint: true },
    },
    (_, ctx) =>
      guarded('panel_open_prs', ctx, async () => {
        const table = openPulls.table();
        return ok(`${table.rows.length} open pull request(s) under review`, table);
      }),
  );

  server.registerTool(
    'deliver',
    {
      description: 'Gateway only: post a finished task result as a comment',
      inputSchema: DeliverInput,
    },
    (input, ctx) =>
      guarded('deliver', ctx, async () => {
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
    (input, ctx) =>
      guarded('on_schedule', ctx, async () => {
        const result = await handleSchedule(api, triageRepos, input);
        return ok(`${result.triggers.length} trigger(s)`, result);
      }),
  );
}
