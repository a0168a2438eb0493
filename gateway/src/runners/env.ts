/**
 * The environment an agent starts with. Never the gateway's own: it holds DATABASE_URL,
 * SWITCHBOARD_MASTER_KEY and the admin key, and an agent runs code the gateway does not trust.
 * Only what a program needs to run at all is taken from the host (REFERENCES §H: a minimal
 * inherited env), then the profile's variables, then its secrets (decrypted by the worker:
 * model API keys), then the bundle's, which win so a profile cannot point an agent at another
 * token.
 */

/** UTF-8 output from tools that look at LANG; C.UTF-8 exists on every glibc and musl system. */
const DEFAULT_LANG = 'C.UTF-8';
/** Where programs are found if the host has no PATH at all. */
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

export function agentEnv(options: {
  host: NodeJS.ProcessEnv;
  home: string;
  profile: Record<string, string> | undefined;
  secrets?: Record<string, string> | undefined;
  bundle: Record<string, string>;
}): Record<string, string> {
  return {
    PATH: options.host.PATH ?? DEFAULT_PATH,
    HOME: options.home,
    LANG: options.host.LANG ?? DEFAULT_LANG,
    ...options.profile,
    ...options.secrets,
    ...options.bundle,
  };
}

/** The same inside a container, minus PATH: the image's own PATH is the right one there. */
export function containerEnv(
  home: string,
  profile: Record<string, string> | undefined,
  bundle: Record<string, string>,
  secrets: Record<string, string> = {},
): Record<string, string> {
  return { HOME: home, LANG: DEFAULT_LANG, ...profile, ...secrets, ...bundle };
}
