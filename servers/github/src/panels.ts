import * as z from 'zod';

/**
 * The "Open PRs under review" panel (manifest `panels`): the pull requests this integration has
 * been sent an `opened` (or `reopened`, `ready_for_review`) delivery for and no `closed` one
 * since the server started: the PRs it asked an agent to review. Kept in this process's memory
 * only, so a restart (or another replica's process) starts empty; it calls no API.
 */

/** The panel table's bound (sdk PANEL_LIMITS.rows): the oldest PR seen is dropped first. */
export const MAX_TRACKED_PULLS = 200;

const PullRequestEvent = z.object({
  action: z.string(),
  repository: z.object({ full_name: z.string().max(200) }),
  sender: z.object({ login: z.string().max(100) }).optional(),
  pull_request: z.object({
    number: z.number().int().positive(),
    title: z.string(),
    html_url: z.string().max(500),
    user: z
      .object({ login: z.string().max(100) })
      .nullable()
      .optional(),
  }),
});

type TrackedPull = {
  repo: string;
  number: number;
  title: string;
  author: string;
  url: string;
  /** When this process received the delivery, ISO 8601. */
  since: string;
};

const OPENING = new Set(['opened', 'reopened', 'ready_for_review']);

export class OpenPulls {
  private readonly pulls = new Map<string, TrackedPull>();

  /** A pull_request delivery's payload (already verified by the gateway); others are ignored. */
  note(payload: unknown, now = new Date()): void {
    const parsed = PullRequestEvent.safeParse(payload);
    if (!parsed.success) return;
    const { action, repository, pull_request: pr, sender } = parsed.data;
    const key = `${repository.full_name}#${pr.number}`;
    if (action === 'closed') {
      this.pulls.delete(key);
      return;
    }
    if (!OPENING.has(action)) return;
    this.pulls.delete(key); // re-inserted last: newest
    this.pulls.set(key, {
      repo: repository.full_name,
      number: pr.number,
      title: pr.title.slice(0, 300),
      author: pr.user?.login ?? sender?.login ?? '',
      url: pr.html_url,
      since: now.toISOString(),
    });
    while (this.pulls.size > MAX_TRACKED_PULLS) {
      const oldest = this.pulls.keys().next().value;
      if (oldest === undefined) break;
      this.pulls.delete(oldest);
    }
  }

  /** The table view's data (sdk tablePanelDataSchema), newest first. */
  table() {
    return {
      columns: [
        { key: 'repo', title: 'Repository' },
        { key: 'number', title: 'PR' },
        { key: 'title', title: 'Title' },
        { key: 'author', title: 'Author' },
        { key: 'since', title: 'Opened (received)' },
        { key: 'url', title: 'Link' },
      ],
      rows: [...this.pulls.values()].reverse().map((p) => ({ ...p })),
    };
  }
}
