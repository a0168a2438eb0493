/**
 * Metric labels an outsider could try to grow without bound (issue 17, docs/metrics.md): 50
 * webhooks to made-up integrations and endpoints and 50 made-up bearer tokens on the MCP
 * endpoints add a fixed handful of series, and no name or token they sent becomes a label
 * value. And /metrics with the queue gauges still answers only a metrics:read key when the
 * policy sets metrics.requireKey (a refused scrape reads nothing from the database).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';
import { eventually } from '../helpers/mcp-gateway.ts';
import { scrape, seriesOf, value } from '../helpers/metrics.ts';

const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/webhooks');
const random = () => `z${randomBytes(6).toString('hex')}`;

describe('metric labels under made-up names and tokens', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: FIXTURES,
    SWITCHBOARD_POLICY: path.join(FIXTURES, 'policy.yaml'),
  });

  it('50 webhooks to /hooks/<random>/<random> and 50 to an unknown endpoint of hooks add 2 series', async () => {
    const before = seriesOf(await scrape(gw().url), 'switchboard_webhook_requests');
    const sent: string[] = [];
    for (let n = 0; n < 50; n++) {
      const [integration, endpoint] = [random(), random()];
      sent.push(integration, endpoint);
      const res = await fetch(`${gw().url}/hooks/${integration}/${endpoint}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(404);
      const other = random();
      sent.push(other);
      const known = await fetch(`${gw().url}/hooks/hooks/${other}`, { method: 'POST', body: '{}' });
      expect(known.status).toBe(404);
    }
    const text = await scrape(gw().url);
    const added = seriesOf(text, 'switchboard_webhook_requests').filter((s) => !before.includes(s));
    expect(added).toEqual([
      'switchboard_webhook_requests_total{"integration":"hooks","outcome":"refused","reason":"webhook_unknown"}',
      'switchboard_webhook_requests_total{"integration":"unknown","outcome":"refused","reason":"webhook_unknown"}',
    ]);
    const count = (integration: string) =>
      value(text, 'switchboard_webhook_requests_total', {
        integration,
        outcome: 'refused',
        reason: 'webhook_unknown',
      });
    expect(count('unknown')).toBe(50);
    expect(count('hooks')).toBe(50);
    for (const name of sent) expect(text).not.toContain(name);
  });

  it('50 made-up bearer tokens on /mcp and /mcp/<random> add at most 3 series, none naming them', async () => {
    const before = seriesOf(await scrape(gw().url), 'switchboard_token_verifications');
    const sent: string[] = [];
    const header = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    for (let n = 0; n < 50; n++) {
      const name = random();
      sent.push(name);
      // Garbage, and JWT-shaped garbage: an unknown kid, alg none.
      const token =
        n % 2 === 0
          ? random()
          : `${header({ alg: n % 4 === 1 ? 'EdDSA' : 'none', typ: 'at+jwt', kid: random() })}.${header({ sub: random() })}.${random()}`;
      sent.push(token);
      for (const url of [`${gw().url}/mcp`, `${gw().url}/mcp/${name}`]) {
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
          },
          body: JSON.stringify({ jsonrpc: '2.0', id: n, method: 'tools/list', params: {} }),
        });
        expect(res.status).toBe(401);
      }
    }
    const text = await scrape(gw().url);
    const added = seriesOf(text, 'switchboard_token_verifications').filter(
      (s) => !before.includes(s),
    );
    expect(added.length).toBeGreaterThanOrEqual(1);
    expect(added.length).toBeLessThanOrEqual(3);
    for (const series of added) {
      expect(series).toMatch(
        /"outcome":"refused","reason":"(malformed|bad_algorithm|unknown_key)"/,
      );
    }
    const refused = ['malformed', 'bad_algorithm', 'unknown_key'].reduce(
      (sum, reason) =>
        sum +
        (value(text, 'switchboard_token_verifications_total', { outcome: 'refused', reason }) ?? 0),
      0,
    );
    expect(refused).toBe(100);
    for (const name of sent) expect(text).not.toContain(name);
    // The request histogram names route patterns, never the path a client made up.
    expect(text).not.toMatch(/route="\/mcp\/z[0-9a-f]{12}"/);
  });
});

describe('/metrics with the queue gauges under policy metrics.requireKey', () => {
  const gw = useTestGateway({
    SWITCHBOARD_POLICY: path.join(REPO_ROOT, 'test/fixtures/mcp-gateway/metrics-key-policy.yaml'),
  });

  it('refuses a scrape without a key or without metrics:read, answers one with it', async () => {
    const anonymous = await fetch(`${gw().url}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).not.toContain('switchboard_queue_items');
    const created = await fetch(`${gw().url}/api/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'tasks-reader', scopes: ['tasks:read'] }),
    });
    const tasksKey = ((await created.json()) as { key: string }).key;
    const forbidden = await fetch(`${gw().url}/metrics`, {
      headers: { authorization: `Bearer ${tasksKey}` },
    });
    expect(forbidden.status).toBe(403);
    const text = await eventually(async () => {
      const t = await scrape(gw().url, ADMIN_KEY);
      expect(value(t, 'switchboard_queue_stats_up')).toBe(1);
      return t;
    });
    expect(value(text, 'switchboard_queue_items', { queue: 'tasks', status: 'pending' })).toBe(0);
  });
});
