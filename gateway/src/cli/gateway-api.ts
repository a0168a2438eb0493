import { loadConfig, publicUrlFor } from '../config.ts';
import { SwitchboardError, UsageError } from '../errors.ts';

/** The running gateway's base URL: SWITCHBOARD_URL, else its public URL from the configuration. */
export function gatewayBase(env: NodeJS.ProcessEnv): string {
  const config = loadConfig(env);
  return (env.SWITCHBOARD_URL ?? publicUrlFor(config, config.port)).replace(/\/+$/, '');
}

export const unreachable = (base: string, error: unknown) =>
  new SwitchboardError(
    'gateway_unreachable',
    `cannot reach the gateway at ${base}: ${(error as Error).message}. Is it running? Set SWITCHBOARD_URL if it listens elsewhere.`,
  );

/**
 * Calls the running gateway's /api/v1 for commands that must go through it (the embedded
 * database admits one process, and the gateway holds state such as the integration registry).
 * SWITCHBOARD_URL (default http://HOST:PORT) and SWITCHBOARD_API_KEY or SWITCHBOARD_ADMIN_KEY.
 */
export async function callGateway(
  env: NodeJS.ProcessEnv,
  usage: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const base = gatewayBase(env);
  const key = env.SWITCHBOARD_API_KEY ?? env.SWITCHBOARD_ADMIN_KEY;
  if (!key) {
    throw new UsageError('set SWITCHBOARD_API_KEY (or SWITCHBOARD_ADMIN_KEY) to an API key', usage);
  }
  let res: Response;
  try {
    res = await fetch(`${base}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      // Every outbound call has a deadline; a reload waits for one server start (≤ 30 s).
      signal: AbortSignal.timeout(45_000),
    });
  } catch (error) {
    throw unreachable(base, error);
  }
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    const error = json.error as { message?: string } | undefined;
    throw new SwitchboardError(
      'api_error',
      `${method} ${route}: ${res.status} ${error?.message ?? ''}`.trim(),
      // A command may act on the status (trace: a 404 as a task, then try a delivery).
      { details: { status: res.status } },
    );
  }
  return json;
}
