import * as z from 'zod';

/**
 * Pull request descriptions into the gateway's documents (issue 18): each pull_request delivery
 * (opened, edited, reopened, …) upserts `pr:<repo>#<n>` with its title, body and URL through
 * POST /api/v1/documents, so agents find earlier PRs with `search_documents`. The gateway gives
 * this server SWITCHBOARD_URL and SWITCHBOARD_API_KEY (documents:*) when the policy grants
 * github `documents`; without them this does nothing (said once on stderr). Never in the
 * webhook's way: the upload runs after the handler answered, bounded by a 5 s timeout, and a
 * failure is logged, not retried (the next edit of the PR sends it again).
 */

/** A slow or stuck gateway must not pile up uploads: 5 s each. */
export const INGEST_TIMEOUT_MS = 5_000;
/** The gateway takes at most 512 KiB of content; a PR body is capped by GitHub at 65,536 chars. */
const CONTENT_MAX_CHARS = 100_000;

const PullRequestEvent = z.object({
  action: z.string(),
  repository: z.object({ full_name: z.string() }),
  pull_request: z.object({
    number: z.number(),
    title: z.string(),
    body: z.string().nullable(),
    html_url: z.string(),
    state: z.string().optional(),
    user: z.object({ login: z.string() }).optional(),
  }),
});

export interface DocumentsEnv {
  SWITCHBOARD_URL?: string | undefined;
  SWITCHBOARD_API_KEY?: string | undefined;
}

export class PullRequestDocuments {
  private warned = false;
  /** Uploads in flight (tests wait for them; nothing else reads it). */
  readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly env: DocumentsEnv = process.env,
    private readonly log: (line: string) => void = (line) => console.error(line),
  ) {}

  /** A pull_request delivery's payload; anything else (or unparsable) is ignored. */
  note(payload: unknown): void {
    const parsed = PullRequestEvent.safeParse(payload);
    if (!parsed.success) return;
    const { SWITCHBOARD_URL: url, SWITCHBOARD_API_KEY: key } = this.env;
    if (!url || !key) {
      if (!this.warned) {
        this.warned = true;
        this.log(
          'github: SWITCHBOARD_URL or SWITCHBOARD_API_KEY is not set (the policy does not grant github "documents"?): pull requests are not ingested as documents',
        );
      }
      return;
    }
    const { repository, pull_request: pr } = parsed.data;
    const repo = repository.full_name;
    const upload = this.send(url, key, {
      externalKey: `pr:${repo}#${pr.number}`,
      session: `github:${repo}#${pr.number}`,
      title: `${repo}#${pr.number}: ${pr.title}`,
      uri: pr.html_url,
      content: (pr.body ?? '').slice(0, CONTENT_MAX_CHARS),
      metadata: {
        repo,
        number: pr.number,
        action: parsed.data.action,
        ...(pr.state && { state: pr.state }),
        ...(pr.user && { author: pr.user.login }),
      },
    })
      .catch((error: unknown) =>
        this.log(`github: could not ingest ${repo}#${pr.number}: ${(error as Error).message}`),
      )
      .finally(() => this.pending.delete(upload));
    this.pending.add(upload);
  }

  private async send(url: string, key: string, document: Record<string, unknown>): Promise<void> {
    const response = await fetch(`${url.replace(/\/+$/, '')}/api/v1/documents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(document),
      signal: AbortSignal.timeout(INGEST_TIMEOUT_MS),
    });
    if (!response.ok) {
      throw new Error(`HTTP ${response.status}: ${(await response.text()).slice(0, 300)}`);
    }
    await response.body?.cancel();
  }
}
