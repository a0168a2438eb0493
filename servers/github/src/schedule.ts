import * as z from 'zod';
import type { GitHubApi } from './github-api.ts';

/**
 * What the gateway sends on_schedule at each fire of a manifest schedule (sdk
 * scheduleInputSchema): the schedule's name and its fire time, ISO 8601 UTC.
 */
export const ScheduleInput = z.object({
  schedule: z.string(),
  fireTime: z.string(),
});
export type ScheduleInput = z.infer<typeof ScheduleInput>;

/** The message lists this many titles; the agent reads the rest with github:list_issues. */
const MAX_LISTED_ISSUES = 20;

export type TriageTrigger = {
  session: { key: string; dispatch: { type: 'none' } };
  message: string;
  run: boolean;
  execution: { preamble: string; tools: string[] };
};

/**
 * nightly-triage: one trigger per repository of GITHUB_TRIAGE_REPOS with its open issues (pull
 * requests left out: the webhook reviews those), in one session per repository so each night
 * continues the last night's triage. Dispatch none: the agent comments on the issues itself.
 * No repositories, or none with open issues → `{triggers: []}`.
 */
export async function handleSchedule(
  api: GitHubApi,
  repos: readonly string[],
  input: ScheduleInput,
): Promise<{ triggers: TriageTrigger[] }> {
  if (input.schedule !== 'nightly-triage') return { triggers: [] };
  const triggers: TriageTrigger[] = [];
  for (const repo of repos) {
    const issues = (await api.listIssues(repo, 'open')).filter((i) => !i.isPullRequest);
    if (issues.length === 0) continue;
    const listed = issues.slice(0, MAX_LISTED_ISSUES).map((i) => `#${i.number} ${i.title}`);
    const more = issues.length - listed.length;
    // list_issues reads at most 100 (one page): "100 open issues" may mean more.
    const count = issues.length >= 100 ? 'at least 100' : String(issues.length);
    triggers.push({
      session: { key: `github:${repo}:triage`, dispatch: { type: 'none' } },
      message: [
        `${count} open issue${issues.length === 1 ? '' : 's'} in ${repo} at ${input.fireTime}:`,
        ...listed,
        ...(more > 0 ? [`… and ${more} more`] : []),
      ].join('\n'),
      run: true,
      execution: {
        preamble: `Triage the open issues of ${repo}: ask for what is missing, point out duplicates, and comment where a comment helps. Read them with github:list_issues.`,
        tools: ['github:list_issues', 'github:comment'],
      },
    });
  }
  return { triggers };
}
