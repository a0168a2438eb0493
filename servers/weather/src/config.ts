import * as z from 'zod';

/** The settings the gateway passes in the environment (manifest `settings`). */
const Settings = z.object({
  // The custom message replaces zod's, which would otherwise say only "expected string".
  WEATHER_API_KEY: z
    .string({ error: 'missing; set it to an OpenWeatherMap API key' })
    .min(1, 'empty; set it to an OpenWeatherMap API key'),
  WEATHER_API_URL: z
    .url({ protocol: /^https?$/ })
    .default('https://api.openweathermap.org')
    .transform((url) => url.replace(/\/+$/, '')),
});

export type Settings = z.infer<typeof Settings>;

/** Zod issues carry the path and message, never the input, so a bad key is not echoed. */
export function loadSettings(env: NodeJS.ProcessEnv): Settings {
  const parsed = Settings.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid settings: ${problems.join('; ')}`);
  }
  return parsed.data;
}
