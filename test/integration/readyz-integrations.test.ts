/**
 * /readyz answers 503 `starting` until the integrations' servers have started (ready or failed),
 * then 200: a replica restarted behind a balancer that health-checks /readyz is not sent MCP
 * calls that would fail "integration … is not available (starting)" (found by the replica suite,
 * test/replicas/client-input.test.ts). The `slow` fixture server takes 2 s before it speaks.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, REPO_ROOT } from '../helpers/gateway.ts';
import { startGatewayProcess } from '../helpers/gateway-process.ts';

const ROOT = path.join(REPO_ROOT, 'test/fixtures/slow-integrations');

describe('readiness waits for the integrations to start', () => {
  it('503 starting while the slow server starts, 200 once it is ready', async () => {
    const gw = await startGatewayProcess({
      INTEGRATION_DIRS: ROOT,
      SWITCHBOARD_POLICY: path.join(ROOT, 'policy.yaml'),
    });
    try {
      const early = await fetch(`${gw.url}/readyz`);
      expect(early.status).toBe(503);
      expect(await early.json()).toMatchObject({ status: 'starting' });
      await expect
        .poll(() => fetch(`${gw.url}/readyz`).then((r) => r.status), {
          timeout: 30_000,
          interval: 100,
        })
        .toBe(200);
      const res = await fetch(`${gw.url}/api/v1/integrations/slow`, {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      });
      expect(await res.json()).toMatchObject({ integration: { state: 'ready' } });
    } finally {
      await gw.cleanup();
    }
  });
});
