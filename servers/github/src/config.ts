import * as z from 'zod';
import { RepoName } from './github-api.ts';

/**
 * The settings the gateway passes in the environment (manifest `settings`). GITHUB_WEBHOOK_SECRET
 * is declared too, but only the gateway uses it (it verifies signatures before calling
 * on_webhook), so the server never reads it.
 */
const Settings = z.object({
  GITHUB_TOKEN: z.string().min(1, 'GITHUB_TOKEN is required'),
  GITHUB_API_URL: z
    .url({ protocol: /^https?$/ })
    .default('https://api.github.com')
    .transform((url) => url.replace(/\/+$/, '')),
  /** Repositories `nightly-triage` looks at: comma-separated owner/name; unset → none. */
  GITHUB_TRIAGE_REPOS: z
    .string()
    .default('')
    .transform((list) =>
      list
        .split(',')
        .map((repo) => repo.trim())
        .filter((repo) => repo !== ''),
    )
    .pipe(z.array(RepoName)),
});

export type Settings = z.infer<typeof Settings>;

export function loadSettings(env: NodeJS.ProcessEnv): Settings {
  const parsed = Settings.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid settings: ${problems.join('; ')}`);
  }
  return parsed.data;
}
