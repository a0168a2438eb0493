import * as z from 'zod';

/**
 * Settings from the environment (manifest `settings`). CHAT_SIGNING_SECRET is declared for the
 * gateway, which verifies Slack signatures before calling on_webhook; this process never reads it.
 * CHAT_PORT=0 asks the OS for a free port (tests); the chosen URL is logged to stderr.
 */
const Settings = z.object({
  CHAT_PORT: z.coerce.number().int().min(0).max(65_535).default(7301),
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
