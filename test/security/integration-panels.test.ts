import { afterAll, describe, expect, it } from 'vitest';
import { provisionIntegrationKey } from '../../gateway/src/keys/integration-key.ts';
import { ADMIN_KEY, useTestGateway } from '../helpers/gateway.ts';
import { panelsRoot } from '../helpers/panels.ts';

/**
 * Integration panels (issue 16): what an integration's panel tool answers reaches an operator's
 * browser, so only data that fits the view's bounded schema passes; anything else is refused
 * with a short error in the gateway's own words. A panel may only name a hidden tool of its own
 * integration, checked when the manifest loads.
 */
describe('integration panels: hostile answers and manifests', () => {
  const fixture = panelsRoot();
  afterAll(() => fixture.cleanup());
  const gw = useTestGateway({
    INTEGRATION_DIRS: fixture.integrationDirs,
    SWITCHBOARD_POLICY: fixture.policyPath,
  });
  const panel = async (name: string) => {
    const started = performance.now();
    const res = await fetch(`${gw().url}/api/v1/integrations/panels/panels/${name}`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    const text = await res.text();
    return { status: res.status, text, ms: performance.now() - started };
  };

  it.each([
    ['huge', /over 256 KiB/],
    ['many-rows', /rows: expected at most 200 rows/],
    ['malformed', /rows\[0\]\.name: expected a string of at most 1000 characters/],
    ['extra-keys', /unexpected key|expected only keys of declared columns/],
    ['error', /the tool answered an error \(see the gateway log\)/],
    ['text-only', /the tool answered no JSON/],
  ])('%s: refused with a bounded 502 that repeats nothing of the answer', async (name, why) => {
    const { status, text } = await panel(name);
    expect(status).toBe(502);
    expect(text.length).toBeLessThan(2_000);
    const body = JSON.parse(text) as { error: { code: string; message: string } };
    expect(['handler_result_invalid', 'handler_error']).toContain(body.error.code);
    expect(body.error.message).toMatch(why);
    expect(body.error.message).toMatch(new RegExp(`^panel ${name} of panels: `));
    for (const leaked of ['LEAKED', '<img', 'onerror', 'xxxxxxxxxx', 'yyyyyyyyyy', '<b>']) {
      expect(text).not.toContain(leaked);
    }
  });

  it('a tool that never answers is cut at 10 s; other panels keep answering meanwhile', async () => {
    const slow = panel('slow');
    const again = panel('slow'); // shares the call in flight
    const quick = await panel('kv');
    expect(quick.status).toBe(200);
    expect(quick.ms).toBeLessThan(5_000);
    const { status, text, ms } = await slow;
    expect(status).toBe(502);
    expect(ms).toBeGreaterThan(9_000);
    expect(ms).toBeLessThan(14_000);
    expect(JSON.parse(text).error.message).toContain('took over 10 s');
    expect((await again).status).toBe(502);
  }, 30_000);

  it("an integration's process key cannot read panels (which call hidden tools), even with * in its row", async () => {
    const { key } = await provisionIntegrationKey(gw().sql, 'panels');
    await gw().sql`update api_keys set scopes = ${['*']} where integration = 'panels'`;
    const res = await fetch(`${gw().url}/api/v1/integrations/panels/panels/kv`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
      'this API key belongs to integration panels: panels are read with operator keys only',
    );
  });

  it('20 requests for one panel at once share one call of its tool', async () => {
    const before = JSON.parse((await panel('kv')).text).data.items[0].value as number;
    await new Promise((resolve) => setTimeout(resolve, 2_100)); // past PANEL_REUSE_MS
    const answers = await Promise.all(Array.from({ length: 20 }, () => panel('kv')));
    const seen = new Set(answers.map((a) => JSON.parse(a.text).data.items[0].value as number));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    // Each distinct value is one call of the tool: one, or two if the 2 s reuse ran out.
    expect(seen.size).toBeLessThanOrEqual(2);
    expect(Math.min(...seen)).toBeGreaterThan(before);
  });

  it("a panel on a tool agents see, or on another integration's tool, is refused at manifest load", async () => {
    const get = async (name: string) =>
      (await (
        await fetch(`${gw().url}/api/v1/integrations/${name}`, {
          headers: { authorization: `Bearer ${ADMIN_KEY}` },
        })
      ).json()) as {
        integration: { state: string; reasons: Array<{ code: string; message: string }> };
      };
    const visible = await get('panels-visible');
    expect(visible.integration.state).toBe('refused');
    expect(visible.integration.reasons.map((r) => r.code)).toContain('manifest_invalid');
    const visibleWhy = visible.integration.reasons.map((r) => r.message).join('\n');
    expect(visibleWhy).toContain(
      'panels-visible/switchboard.yaml is invalid (1 error): panels[0].tool: found "visible_tool"',
    );
    expect(visibleWhy).toContain('listed in tools.hidden');

    const foreign = await get('panels-foreign');
    expect(foreign.integration.state).toBe('refused');
    const foreignWhy = foreign.integration.reasons.map((r) => r.message).join('\n');
    expect(foreignWhy).toContain(
      'panels-foreign/switchboard.yaml is invalid (2 errors): panels[0].tool:',
    );
    expect(foreignWhy).toContain("a panel cannot call another integration's tool");

    // Refused: their panels are not served, and nothing was called.
    const res = await fetch(`${gw().url}/api/v1/integrations/panels-visible/panels/leak`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(res.status).toBe(404);
  });
});
