import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { sendPullRequestOpened } from '../helpers/agent-e2e.ts';
import {
  adminApi,
  go,
  openConsole,
  screenshot,
  seriousAxeViolations,
  signIn,
  useConsoleSuite,
} from '../helpers/console.ts';
import { ADMIN_KEY } from '../helpers/gateway.ts';
import { PANELS_GITHUB_SECRET, panelsRoot } from '../helpers/panels.ts';
import { githubHeaders } from '../helpers/webhooks.ts';

/**
 * Issue 16 point 4: integration panels in the console. The integration page is built on another
 * branch; this branch's placeholder page renders <IntegrationPanels> so the panels can be seen.
 */
describe('console: integration panels', () => {
  const fixture = panelsRoot();
  afterAll(() => fixture.cleanup());
  const suite = useConsoleSuite({
    INTEGRATION_DIRS: fixture.integrationDirs,
    SWITCHBOARD_POLICY: fixture.policyPath,
  });

  /** GitHub's `pull_request` reopened (no task: the webhook starts tasks for `opened` only). */
  async function reopen(url: string, number: number): Promise<void> {
    const body = JSON.stringify({
      action: 'reopened',
      number,
      pull_request: {
        number,
        title: `Refactor module ${number}`,
        body: '',
        html_url: `https://github.com/acme/web/pull/${number}`,
        user: { login: `dev${number % 7}` },
      },
      repository: { full_name: 'acme/web' },
      sender: { login: 'ada', type: 'User' },
    });
    const res = await fetch(`${url}/hooks/github/events`, {
      method: 'POST',
      headers: githubHeaders(PANELS_GITHUB_SECRET, body, randomUUID(), 'pull_request'),
      body,
    });
    expect(res.status).toBe(202);
  }

  it('github: "Open PRs under review" shows the PRs its signed webhooks opened', async () => {
    const { browser, url } = suite();
    await sendPullRequestOpened(url, PANELS_GITHUB_SECRET);
    for (let n = 100; n < 125; n++) await reopen(url, n);
    // The server's state, through the API: 26 rows once every delivery is handled.
    await expect
      .poll(
        async () =>
          (
            await adminApi<{ data: { rows: unknown[] } }>(
              url,
              'GET',
              '/integrations/github/panels/open-prs',
            )
          ).body.data?.rows.length,
        { timeout: 20_000, interval: 300 },
      )
      .toBe(26);

    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    await go(page, '/integrations/github');
    const table = page.getByRole('table', { name: 'Open PRs under review' });
    await table.waitFor();
    const pr42 = table.getByRole('row').filter({ hasText: 'Add dark mode' });
    await expect.poll(() => pr42.count()).toBe(1);
    expect(await pr42.textContent()).toContain('acme/api');
    expect(await pr42.getByRole('link').getAttribute('href')).toBe(
      'https://github.com/acme/api/pull/42',
    );
    expect(await table.getByRole('row').count()).toBe(27); // header + 26
    expect(await table.getByRole('columnheader').allTextContents()).toEqual([
      'Repository',
      'PR',
      'Title',
      'Author',
      'Opened (received)',
      'Link',
    ]);

    // Reload asks the server again: one more PR appears without leaving the page.
    await reopen(url, 200);
    await new Promise((resolve) => setTimeout(resolve, 2_200)); // past the gateway's 2 s reuse
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Reload Open PRs under review' }).click();
          return table.getByRole('row').filter({ hasText: 'Refactor module 200' }).count();
        },
        { timeout: 15_000, interval: 1_000 },
      )
      .toBe(1);

    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'panels');
    // The 401 is the console asking for a session before signing in.
    expect(tab.problems).toEqual([]);
    await tab.context.close();
  });

  it('generic views: key-value, a time series as an SVG chart with its table, and refusals in words', async () => {
    const { browser, url } = suite();
    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    await go(page, '/integrations/panels');
    await page.getByRole('table', { name: 'Panel table' }).waitFor();
    expect(await page.getByRole('table', { name: 'Panel table' }).getByRole('row').count()).toBe(
      31,
    );

    const kv = page.locator('[data-panel="kv"]');
    await expect
      .poll(() => kv.locator('dt').allTextContents())
      .toEqual(['Calls so far', 'Healthy']);
    expect(await kv.locator('dd').nth(1).textContent()).toBe('yes');

    const chart = page.getByRole('img', {
      name: /^Panel timeseries: 2 series \(received, failed\)/,
    });
    await chart.waitFor();
    expect(await page.locator('[data-panel="timeseries"] polyline').count()).toBe(2);
    await page.getByText('Show the data as a table').click();
    const data = page.getByRole('table', { name: 'Panel timeseries: data' });
    expect(await data.getByRole('row').count()).toBe(25);
    expect(await data.getByRole('row').nth(1).textContent()).toContain('10');

    // What the gateway refused shows as its message; none of the tool's own text arrives.
    const huge = page.locator('[data-panel="huge"]');
    await expect.poll(() => huge.getByRole('alert').textContent()).toContain('over 256 KiB');
    const extra = page.locator('[data-panel="extra-keys"]');
    await expect.poll(() => extra.getByRole('alert').count()).toBe(1);
    const malformed = page.locator('[data-panel="malformed"]');
    await expect.poll(() => malformed.getByRole('alert').count()).toBe(1);
    expect(await page.content()).not.toContain('LEAKED');
    expect(await page.locator('img').count()).toBe(0);

    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'panels-views');
    await tab.context.close();
  });

  it('phone width: the panels fit without the page scrolling sideways', async () => {
    const { browser, url } = suite();
    await reopen(url, 300);
    const tab = await openConsole(browser, url, { width: 390, height: 844 });
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    const overflow = () =>
      page.evaluate(() => {
        const d = (
          globalThis as unknown as {
            document: { documentElement: { scrollWidth: number; clientWidth: number } };
          }
        ).document.documentElement;
        return d.scrollWidth - d.clientWidth;
      });
    await go(page, '/integrations/panels');
    await page.getByRole('img', { name: /^Panel timeseries/ }).waitFor();
    await page.getByRole('table', { name: 'Panel table' }).waitFor();
    expect(await overflow()).toBeLessThanOrEqual(0);
    await go(page, '/integrations/github');
    await page
      .getByRole('table', { name: 'Open PRs under review' })
      .getByRole('row')
      .filter({ hasText: 'Refactor module 300' })
      .waitFor();
    expect(await overflow()).toBeLessThanOrEqual(0);
    await screenshot(page, 'panels-phone');
    await tab.context.close();
  });
});
