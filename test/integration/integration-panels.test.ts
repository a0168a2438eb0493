import { afterAll, describe, expect, it } from 'vitest';
import { sendPullRequestOpened } from '../helpers/agent-e2e.ts';
import { ADMIN_KEY, useTestGateway } from '../helpers/gateway.ts';
import { PANELS_GITHUB_SECRET, panelsRoot } from '../helpers/panels.ts';

/** Issue 16 point 4: GET /api/v1/integrations/:name/panels[/:panel] with real integrations. */
describe('integration panels API', () => {
  const fixture = panelsRoot();
  afterAll(() => fixture.cleanup());
  const gw = useTestGateway({
    INTEGRATION_DIRS: fixture.integrationDirs,
    SWITCHBOARD_POLICY: fixture.policyPath,
  });
  // biome-ignore lint/suspicious/noExplicitAny: answers are read loosely, checked by value
  type Json = Record<string, any>;
  const get = async (route: string, key = ADMIN_KEY) => {
    const res = await fetch(`${gw().url}/api/v1${route}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    return { status: res.status, body: (await res.json()) as Json };
  };

  it('lists the panels the github manifest declares', async () => {
    const { status, body } = await get('/integrations/github/panels');
    expect(status).toBe(200);
    expect(body).toEqual({
      integration: 'github',
      panels: [
        { name: 'open-prs', title: 'Open PRs under review', view: 'table', refreshMs: 30_000 },
      ],
    });
    expect((await get('/integrations/notes/panels')).body.panels ?? []).toEqual([]);
  });

  it('github open-prs: empty, then the PR of a signed pull_request opened webhook', async () => {
    const before = await get('/integrations/github/panels/open-prs');
    expect(before.status, JSON.stringify(before.body)).toBe(200);
    expect(before.body.panel).toMatchObject({ name: 'open-prs', view: 'table' });
    expect(before.body.data.rows).toEqual([]);
    expect(before.body.data.columns.map((c: { key: string }) => c.key)).toEqual([
      'repo',
      'number',
      'title',
      'author',
      'since',
      'url',
    ]);

    await sendPullRequestOpened(gw().url, PANELS_GITHUB_SECRET);
    // The delivery is handled asynchronously (202 first): on_webhook notes the PR.
    await expect
      .poll(async () => (await get('/integrations/github/panels/open-prs')).body.data?.rows, {
        timeout: 15_000,
        interval: 200,
      })
      .toEqual([
        {
          repo: 'acme/api',
          number: 42,
          title: 'Add dark mode',
          author: 'ada',
          since: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
          url: 'https://github.com/acme/api/pull/42',
        },
      ]);
  });

  it('answers table, key-value and time series data of a fixture integration', async () => {
    const table = await get('/integrations/panels/panels/table');
    expect(table.status).toBe(200);
    expect(table.body.data.rows).toHaveLength(30);
    expect(table.body.fetchedAt).toMatch(/Z$/);
    const kv = await get('/integrations/panels/panels/kv');
    expect(kv.body.data.items).toEqual([
      { label: 'Calls so far', value: expect.any(Number) },
      { label: 'Healthy', value: true },
    ]);
    const ts = await get('/integrations/panels/panels/timeseries');
    expect(ts.body.data.unit).toBe('deliveries');
    expect(ts.body.data.series.map((s: { name: string }) => s.name)).toEqual([
      'received',
      'failed',
    ]);
    expect(ts.body.data.series[0].points).toHaveLength(24);
  });

  it('404 for an unknown integration or panel; needs integrations:read', async () => {
    expect((await get('/integrations/nope/panels')).status).toBe(404);
    const unknown = await get('/integrations/github/panels/nope');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toBe('github declares no panel named "nope"');

    const make = async (scopes: string[]) => {
      const res = await fetch(`${gw().url}/api/v1/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `panels-${scopes.join('-')}`, scopes }),
      });
      expect(res.status).toBe(201);
      return ((await res.json()) as { key: string }).key;
    };
    const reader = await make(['integrations:read']);
    const other = await make(['tasks:read']);
    expect((await get('/integrations/panels/panels/kv', reader)).status).toBe(200);
    expect((await get('/integrations/panels/panels', reader)).status).toBe(200);
    expect((await get('/integrations/panels/panels/kv', other)).status).toBe(403);
    expect((await get('/integrations/panels/panels', other)).status).toBe(403);
  });

  it('/openapi.json lists both routes', async () => {
    const { body } = await get('/openapi.json');
    expect(Object.keys(body.paths)).toEqual(
      expect.arrayContaining([
        '/integrations/{name}/panels',
        '/integrations/{name}/panels/{panel}',
      ]),
    );
  });
});
