/**
 * Key-value storage tests (test/integration/kv.test.ts, test/security/kv.test.ts): a gateway
 * over test/fixtures/kv (integrations kvapp and kvother granted storage.kv, nogrant without
 * it), and an API call that answers the status and the JSON body.
 */
import path from 'node:path';
import { REPO_ROOT, type TestGateway, useTestGateway } from './gateway.ts';

export const KV_FIXTURES = path.join(REPO_ROOT, 'test/fixtures/kv');
export const KV_POLICY = path.join(KV_FIXTURES, 'policy.yaml');

export function useKvGateway(env: Record<string, string> = {}): () => TestGateway {
  return useTestGateway({ INTEGRATION_DIRS: KV_FIXTURES, SWITCHBOARD_POLICY: KV_POLICY, ...env });
}

// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; the API validates them
export type Json = Record<string, any>;

export async function kvCall(
  gw: TestGateway,
  key: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${gw.url}/api/v1${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Json };
}
