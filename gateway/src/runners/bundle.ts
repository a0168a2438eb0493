import { INTEGRATION_NAME } from '@switchboard/sdk';
import { z } from 'zod';
import { SwitchboardError } from '../errors.ts';

/**
 * The injection bundle of one task (ARCHITECTURE §4 "Injection bundle"): the MCP servers the
 * agent may reach, the environment it gets, and where each agent format's config file lives.
 * One canonical list of servers (REFERENCES §D "emitter design note") rendered into each format
 * by `formats/*.ts`; this file only builds that list and the environment.
 *
 * Tokens live in the environment, never in a file: every format refers to a variable (Claude
 * Code `${VAR}`, Cursor `${env:VAR}`, Codex `bearer_token_env_var`, goose `env_keys` and
 * `${VAR}` in headers, REFERENCES §J).
 */

/** The built-in server with the task tools (task_complete, ask_user, …), always present. */
export const SWITCHBOARD_SERVER = 'switchboard';

export const bundleInputSchema = z.strictObject({
  /** The gateway's public base URL (SWITCHBOARD_PUBLIC_URL), e.g. http://127.0.0.1:8080. */
  publicUrl: z.url({ protocol: /^https?$/ }),
  taskId: z.string().min(1).max(128),
  /** null or left out: a task without a session (its SWITCHBOARD_SESSION_ID is then absent). */
  sessionId: z.string().min(1).max(128).nullish(),
  /** The task token for the aggregate `/mcp` endpoint (`aud = <public>/mcp`). */
  token: z.string().min(1),
  /** One entry per granted integration: `<public>/mcp/<name>` with a token for that audience. */
  integrations: z.array(
    z.strictObject({
      name: z.string().regex(INTEGRATION_NAME, 'expected an integration name'),
      url: z.url({ protocol: /^https?$/ }),
      token: z.string().min(1),
    }),
  ),
  switchboardServer: z.strictObject({
    url: z.url({ protocol: /^https?$/ }),
    token: z.string().min(1),
  }),
});
export type BundleInput = z.input<typeof bundleInputSchema>;

export interface BundleServer {
  /** The key in every config file: `switchboard` or the integration name. */
  name: string;
  url: string;
  /** The environment variable holding this server's bearer token. */
  tokenEnv: string;
}

export interface Bundle {
  taskId: string;
  sessionId: string | null;
  publicUrl: string;
  /** `switchboard` first, then the integrations in the order granted. */
  servers: BundleServer[];
  /** Everything the agent's environment gets from the bundle (URLs, ids and tokens). */
  env: Record<string, string>;
  /** The names in `env` whose values are credentials (drivers keep them off command lines). */
  secretEnv: string[];
}

export const ENV = {
  url: 'SWITCHBOARD_URL',
  mcpUrl: 'SWITCHBOARD_MCP_URL',
  token: 'SWITCHBOARD_TOKEN',
  taskId: 'SWITCHBOARD_TASK_ID',
  sessionId: 'SWITCHBOARD_SESSION_ID',
} as const;

/**
 * `SWITCHBOARD_TOKEN_GITHUB_APP` for `github-app`. Integration names are `[a-z][a-z0-9-]`, with
 * no `_`, so mapping `-` to `_` cannot make two names collide.
 */
export function tokenEnvName(server: string): string {
  return `${ENV.token}_${server.toUpperCase().replaceAll('-', '_')}`;
}

export function buildBundle(input: BundleInput): Bundle {
  const parsed = bundleInputSchema.safeParse(input);
  if (!parsed.success) {
    const where = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`)
      .join('; ');
    throw new SwitchboardError('bundle_invalid', `invalid injection bundle input: ${where}`);
  }
  const { publicUrl, taskId, sessionId, token, integrations, switchboardServer } = parsed.data;
  const seen = new Set<string>([SWITCHBOARD_SERVER]);
  for (const { name } of integrations) {
    if (seen.has(name))
      throw new SwitchboardError(
        'bundle_invalid',
        name === SWITCHBOARD_SERVER
          ? `an integration cannot be named ${SWITCHBOARD_SERVER}: the built-in server has that name`
          : `integration ${name} is granted twice`,
      );
    seen.add(name);
  }
  const base = publicUrl.replace(/\/+$/, '');
  const servers: BundleServer[] = [
    { name: SWITCHBOARD_SERVER, url: switchboardServer.url, tokenEnv: tokenEnvName('switchboard') },
    ...integrations.map(({ name, url }) => ({ name, url, tokenEnv: tokenEnvName(name) })),
  ];
  const env: Record<string, string> = {
    [ENV.url]: base,
    [ENV.mcpUrl]: `${base}/mcp`,
    [ENV.token]: token,
    [ENV.taskId]: taskId,
    ...(sessionId ? { [ENV.sessionId]: sessionId } : {}),
    [tokenEnvName(SWITCHBOARD_SERVER)]: switchboardServer.token,
  };
  for (const { name, token: t } of integrations) env[tokenEnvName(name)] = t;
  const secretEnv = [ENV.token, ...servers.map((s) => s.tokenEnv)];
  return { taskId, sessionId: sessionId ?? null, publicUrl: base, servers, env, secretEnv };
}
