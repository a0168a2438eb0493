/**
 * Issue 19: "revocation refused everywhere in under 1 s". An external task's /mcp token is
 * presented to each replica directly (each verifies and caches it for up to 30 s,
 * gateway/src/tokens/service.ts), then the task is completed through replica 0's API, which
 * revokes its tokens; every replica is polled every 20 ms until it refuses the token (401). The
 * other two never re-read a cached token from the database: only the revocation's NOTIFY can
 * clear it. The issue states the bound, so it is asserted, and each replica's time printed.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/gateway.ts';
import { type Cluster, REPLICAS, sleep, startCluster } from './cluster.ts';

const BOUND_MS = 1_000;
const POLL_MS = 20;

describe('token revocation across three replicas', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({
      INTEGRATION_DIRS: path.join(REPO_ROOT, 'test/fixtures/integrations'),
      SWITCHBOARD_POLICY: path.join(REPO_ROOT, 'test/fixtures/tasks-api/policy.yaml'),
    });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  /** The auth answer of replica i to a stateless MCP ping with this token (its status). */
  const ping = (i: number, token: string) =>
    cluster.directRequest(
      i,
      'POST',
      '/mcp',
      {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    );
  // A ping in flight when the revocation lands is cut (token-exchanges.ts: res.destroy()), the
  // socket hanging up: not a refusal yet, so the watcher asks again.
  const probe = (i: number, token: string) =>
    ping(i, token).then(
      (res) => res.status,
      () => 0,
    );

  it(`a task's token revoked through one replica is refused by all three within ${BOUND_MS} ms`, async () => {
    const granted = await cluster.api('POST', '/tasks', { external: true, scope: ['echo:*'] });
    expect(granted.status).toBe(201);
    const { task, mcp } = (await granted.json()) as {
      task: { id: string };
      mcp: { url: string; token: string };
    };
    // Minted for the public URL (the balancer's), so every replica accepts its audience.
    expect(mcp.url).toBe(`${cluster.url}/mcp`);
    // Accepted (and so cached) by each replica first.
    for (let i = 0; i < REPLICAS; i++) expect((await ping(i, mcp.token)).status).toBe(200);

    const started = Date.now();
    const refusedAfter: Array<number | null> = Array.from({ length: REPLICAS }, () => null);
    const watchers = Array.from({ length: REPLICAS }, async (_, i) => {
      while (Date.now() - started < BOUND_MS * 5) {
        if ((await probe(i, mcp.token)) === 401) {
          refusedAfter[i] = Date.now() - started;
          return;
        }
        await sleep(POLL_MS);
      }
    });
    const revoked = await cluster.api(
      'POST',
      `/tasks/${task.id}/complete`,
      { result: 'done' },
      cluster.direct(0),
    );
    expect(revoked.status).toBe(200);
    const answeredAfter = Date.now() - started;
    await Promise.all(watchers);
    console.log(
      `revoked through replica 0 (answered after ${answeredAfter} ms); refused after (ms) per replica: ${JSON.stringify(refusedAfter)}`,
    );
    for (const ms of refusedAfter) {
      expect(ms).not.toBeNull();
      expect(ms!).toBeLessThan(BOUND_MS);
    }
    // Refused for the revocation, by every replica (not some other 401).
    for (let i = 0; i < REPLICAS; i++) {
      const refused = await ping(i, mcp.token);
      expect(refused.status).toBe(401);
      expect(refused.text).toContain('the token has been revoked');
    }
  });
});
