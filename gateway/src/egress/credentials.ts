import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Who is connecting through the egress proxy: every integration's processes get a proxy URL whose
 * credentials name the integration (and the task, for a per-task instance). Stateless: the
 * password is an HMAC of the username under the proxy's secret, so nothing is stored, a restart
 * keeps the URLs valid while the secret stays, and one integration cannot make up another's
 * password (it would need the secret, which stays in the gateway).
 */

const INTEGRATION = /^[a-z][a-z0-9-]*$/;
/** Task ids are UUIDs (tasks.id), written lowercase as the database answers them. */
const TASK_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** `Basic ` + base64 of a 41-character name, `+`, a 36-character task id, `:` and 43 characters. */
const MAX_HEADER_LENGTH = 512;

export interface ProxyCredentials {
  username: string;
  password: string;
}

export interface ProxyIdentity {
  integration: string;
  taskId?: string;
}

function passwordOf(secret: Buffer, username: string): string {
  return createHmac('sha256', secret).update(username, 'utf8').digest('base64url');
}

function usernameOf(integration: string, taskId: string | undefined): string {
  if (!INTEGRATION.test(integration)) {
    throw new TypeError(`egress credentials: integration name ${JSON.stringify(integration)}`);
  }
  if (taskId === undefined) return integration;
  if (!TASK_ID.test(taskId))
    throw new TypeError(`egress credentials: task id ${JSON.stringify(taskId)}`);
  return `${integration}+${taskId}`;
}

/** The username and password an integration's processes put in their HTTPS_PROXY URL. */
export function proxyCredentials(
  secret: Buffer,
  integration: string,
  taskId?: string,
): ProxyCredentials {
  const username = usernameOf(integration, taskId);
  return { username, password: passwordOf(secret, username) };
}

/**
 * The integration (and task) a `Proxy-Authorization: Basic …` header proves, or undefined: no
 * header, another scheme, a malformed or over-long value, a username that is no integration
 * name, or a password that is not the HMAC of exactly this username.
 */
export function identify(
  secret: Buffer,
  proxyAuthorization: string | undefined,
): ProxyIdentity | undefined {
  if (proxyAuthorization === undefined || proxyAuthorization.length > MAX_HEADER_LENGTH) {
    return undefined;
  }
  const match = /^basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(proxyAuthorization);
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  const plus = username.indexOf('+');
  const integration = plus < 0 ? username : username.slice(0, plus);
  const taskId = plus < 0 ? undefined : username.slice(plus + 1);
  if (!INTEGRATION.test(integration)) return undefined;
  if (taskId !== undefined && !TASK_ID.test(taskId)) return undefined;
  const expected = Buffer.from(passwordOf(secret, username), 'utf8');
  const given = Buffer.from(password, 'utf8');
  // timingSafeEqual needs equal lengths; the expected length (43) is public anyway.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  return taskId === undefined ? { integration } : { integration, taskId };
}
