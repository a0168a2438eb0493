import { tracedFetch } from '@switchboard/sdk/tracing';
import * as z from 'zod';

/** GitHub asks webhook receivers to answer within 10 s; API calls get the same budget. */
const REQUEST_TIMEOUT_MS = 10_000;
/** GitHub's maximum page size for list endpoints. */
const MAX_PER_PAGE = 100;

/** `owner/name` as GitHub allows them; anything else could smuggle path segments into the URL. */
export const RepoName = z
  .string()
  .regex(/^[A-Za-z0-9-]{1,39}\/[A-Za-z0-9._-]{1,100}$/, 'expected owner/name')
  .refine(
    (repo) => !repo.split('/').some((part) => part === '.' || part === '..'),
    'expected owner/name',
  );

const User = z.object({ login: z.string(), type: z.string().optional() });

const PullResponse = z.object({
  number: z.number(),
  title: z.string(),
  state: z.string(),
  body: z.string().nullable(),
  html_url: z.string(),
  draft: z.boolean().optional(),
  merged: z.boolean().optional(),
  user: User.nullable(),
  head: z.object({ ref: z.string(), sha: z.string() }),
  base: z.object({ ref: z.string() }),
});

const IssueResponse = z.object({
  number: z.number(),
  title: z.string(),
  state: z.string(),
  html_url: z.string(),
  user: User.nullable(),
  pull_request: z.unknown().optional(),
});

const CommentResponse = z.object({ id: z.number(), html_url: z.string() });

export type Pull = {
  number: number;
  title: string;
  state: string;
  body: string;
  author: string | null;
  url: string;
  draft: boolean;
  merged: boolean;
  head: string;
  base: string;
};
export type Issue = {
  number: number;
  title: string;
  state: string;
  author: string | null;
  url: string;
  isPullRequest: boolean;
};
export type Comment = { id: number; url: string };
export type IssueState = 'open' | 'closed' | 'all';

/** A failed GitHub call; `status` is the HTTP status, or 0 when no response arrived. */
export class GitHubError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export class GitHubApi {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async getPull(repo: string, number: number): Promise<Pull> {
    const pr = PullResponse.parse(await this.request('GET', `/repos/${repo}/pulls/${number}`));
    return {
      number: pr.number,
      title: pr.title,
      state: pr.state,
      body: pr.body ?? '',
      author: pr.user?.login ?? null,
      url: pr.html_url,
      draft: pr.draft ?? false,
      merged: pr.merged ?? false,
      head: pr.head.ref,
      base: pr.base.ref,
    };
  }

  async listIssues(repo: string, state: IssueState): Promise<Issue[]> {
    const query = new URLSearchParams({ state, per_page: String(MAX_PER_PAGE) });
    const issues = z
      .array(IssueResponse)
      .parse(await this.request('GET', `/repos/${repo}/issues?${query}`));
    return issues.map((issue) => ({
      number: issue.number,
      title: issue.title,
      state: issue.state,
      author: issue.user?.login ?? null,
      url: issue.html_url,
      // The issues endpoint also returns pull requests; they carry a `pull_request` key.
      isPullRequest: issue.pull_request !== undefined,
    }));
  }

  async createComment(repo: string, number: number, body: string): Promise<Comment> {
    const comment = CommentResponse.parse(
      await this.request('POST', `/repos/${repo}/issues/${number}/comments`, { body }),
    );
    return { id: comment.id, url: comment.html_url };
  }

  private async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    let response: Response;
    try {
      // A CLIENT span under the tool's, with traceparent in the headers (the token is never recorded).
      response = await tracedFetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          accept: 'application/vnd.github+json',
          authorization: `Bearer ${this.token}`,
          'user-agent': 'switchboard-github-integration',
          'x-github-api-version': '2022-11-28',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      throw new GitHubError(`GitHub ${method} ${path} failed: ${(error as Error).message}`, 0);
    }
    if (!response.ok) {
      // GitHub error bodies are `{message, documentation_url}`; 200 chars is enough to say why.
      const detail = (await response.text().catch(() => '')).slice(0, 200);
      throw new GitHubError(
        `GitHub ${method} ${path} → ${response.status}: ${detail}`,
        response.status,
      );
    }
    return response.json();
  }
}
