import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  adminApi,
  createKey,
  go,
  openConsole,
  screenshot,
  seriousAxeViolations,
  signIn,
  useConsoleSuite,
} from '../helpers/console.ts';
import { ADMIN_KEY } from '../helpers/gateway.ts';

/** Issue 16: the Overview and Integrations pages, on the example integrations in servers/. */

const EXAMPLES = ['chat', 'fixture', 'github', 'notes', 'weather'];
const WEATHER_SECRET = 'owm-console-test-secret-7f3a9c';

interface Summary {
  name: string;
  state: string;
}
// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; the API validates them
type Json = Record<string, any>;

/** The state badge in a table row naming `name` (lists and the overview). */
const rowState = (page: Page, table: string, name: string) =>
  page
    .getByRole('table', { name: table })
    .getByRole('row')
    .filter({ has: page.getByRole('link', { name, exact: true }) })
    .locator('.badge')
    .first()
    .textContent();

const headerState = (page: Page) => page.locator('.page-header .badge').textContent();

/** Every integration settled (none still starting), as the admin key sees them. */
async function settledStates(url: string): Promise<Map<string, string>> {
  let states = new Map<string, string>();
  await expect
    .poll(
      async () => {
        const { body } = await adminApi<{ integrations: Summary[] }>(url, 'GET', '/integrations');
        states = new Map(body.integrations.map((i) => [i.name, i.state]));
        return [...states.values()].every((s) => s !== 'starting') && states.size;
      },
      { timeout: 60_000, interval: 500 },
    )
    .toBe(EXAMPLES.length);
  return states;
}

describe('console: overview and integrations', () => {
  const suite = useConsoleSuite();

  it("shows every example integration's state on the overview and the list", async () => {
    const { browser, url } = suite();
    const states = await settledStates(url);
    expect(states.get('weather')).toBe('refused');
    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    for (const name of EXAMPLES) {
      await expect
        .poll(() => rowState(page, 'Integration states', name))
        .toBe(states.get(name)!.replaceAll('_', ' '));
    }
    // Every section the admin key may read, each linking to its list.
    for (const section of ['Integrations', 'Tasks', 'Webhook deliveries', 'Outbox']) {
      await page.getByRole('heading', { name: section, level: 2 }).waitFor();
    }
    const links = page.locator('main a.stat');
    const hrefs = await links.evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    expect(hrefs).toEqual(
      expect.arrayContaining([
        '#/tasks?status=pending',
        '#/deliveries?status=failed',
        '#/outbox?status=dead',
      ]),
    );
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'overview');

    await go(page, '/integrations');
    await page.getByRole('heading', { name: 'Integrations', level: 1 }).waitFor();
    for (const name of EXAMPLES) {
      await expect
        .poll(() => rowState(page, 'Integrations', name))
        .toBe(states.get(name)!.replaceAll('_', ' '));
    }
    const weatherRow = page.getByRole('row').filter({ hasText: 'weather' });
    expect(await weatherRow.textContent()).toContain(
      'required setting WEATHER_API_KEY has no value',
    );
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'integrations');
    expect(tab.problems).toEqual([]);
    await tab.context.close();
  });

  it('the settings form sets the weather secret and the integration becomes ready; the value never shows', async () => {
    const { browser, url } = suite();
    await settledStates(url);
    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    await page.getByRole('link', { name: 'Integrations' }).click();
    await page.getByRole('link', { name: 'weather', exact: true }).click();
    await expect.poll(() => headerState(page)).toBe('refused');
    expect(await page.locator('main').textContent()).toContain(
      'required setting WEATHER_API_KEY has no value',
    );
    await page.getByText('set the missing or invalid setting in Settings below').waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'integration-weather-before');

    // The refusal's fix leads to the settings form.
    await page.getByRole('button', { name: 'Set WEATHER_API_KEY' }).click();
    const input = page.getByLabel('Set secret WEATHER_API_KEY');
    await expect
      .poll(() => input.evaluate((el) => el === el.ownerDocument.activeElement))
      .toBe(true);
    expect(await input.getAttribute('type')).toBe('password');
    await page.keyboard.type(WEATHER_SECRET);
    await page.getByRole('button', { name: 'Save WEATHER_API_KEY' }).click();
    await page.getByText('Saved WEATHER_API_KEY; reloaded').waitFor({ timeout: 30_000 });
    await expect.poll(() => headerState(page), { timeout: 30_000 }).toBe('ready');
    const replace = page.getByLabel('Replace secret WEATHER_API_KEY');
    await replace.waitFor();
    expect(await replace.inputValue()).toBe('');
    await page.getByText('set (database)').waitFor();
    // Its tools, now listed, with their descriptions.
    expect(await page.getByRole('table', { name: 'Tools' }).textContent()).toMatch(/\w+/);

    const { body } = await adminApi<{ integration: Json }>(url, 'GET', '/integrations/weather');
    expect(body.integration.state).toBe('ready');
    expect(body.integration.settings.find((s: Json) => s.key === 'WEATHER_API_KEY')).toMatchObject({
      secret: true,
      source: 'database',
      value: '******',
    });
    expect(JSON.stringify(body)).not.toContain(WEATHER_SECRET);
    expect(await page.content()).not.toContain(WEATHER_SECRET);
    const audit = await adminApi<{ entries: Json[] }>(url, 'GET', '/audit?limit=20');
    expect(JSON.stringify(audit.body)).not.toContain(WEATHER_SECRET);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'integration-weather-after');
    expect(tab.problems).toEqual([]);
    await tab.context.close();
  });

  it("an integration's page shows webhook URLs, schedules with their next fire, hidden handler tools", async () => {
    const { browser, url } = suite();
    await settledStates(url);
    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    await go(page, '/integrations/github');
    await expect.poll(() => headerState(page)).toBe('ready');
    const webhooks = page.getByRole('table', { name: 'Webhooks' });
    await webhooks.waitFor();
    expect(await webhooks.textContent()).toContain(`${url}/hooks/github/events`);
    const schedules = await page.getByRole('table', { name: 'Schedules' }).textContent();
    expect(schedules).toContain('nightly-triage');
    expect(schedules).toContain('0 6 * * *');
    expect(schedules).toMatch(/\d{4}-\d\d-\d\d 06:00:00Z \(in \d+ (h|min|s)\)/);
    const tools = page.getByRole('table', { name: 'Tools' });
    const onWebhook = tools.getByRole('row').filter({ hasText: 'on_webhook' });
    expect(await onWebhook.textContent()).toContain('hidden: gateway handler');
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'integration-github');
    await tab.context.close();
  });

  it('the reload button reloads the integration (audited)', async () => {
    const { browser, url } = suite();
    await settledStates(url);
    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    await go(page, '/integrations/notes');
    await expect.poll(() => headerState(page)).toBe('ready');
    await page.getByRole('button', { name: 'Reload', exact: true }).click();
    await expect
      .poll(async () => {
        const { body } = await adminApi<{ entries: Json[] }>(
          url,
          'GET',
          '/audit?action=integrations.reload',
        );
        return body.entries.map((e) => e.target);
      })
      .toContain('notes');
    await expect.poll(() => headerState(page), { timeout: 30_000 }).toBe('ready');
    await page.getByRole('button', { name: 'Reload', exact: true }).waitFor();
    expect(tab.problems).toEqual([]);
    await tab.context.close();
  });

  it('a read-only key sees no settings form or reload button, and a forged write is refused 403', async () => {
    const { browser, url } = suite();
    await settledStates(url);
    const { key } = await createKey(url, 'integrations-viewer', ['integrations:read']);
    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, key);
    // The overview shows only what the key may read.
    await page.getByRole('heading', { name: 'Integrations', level: 2 }).waitFor();
    expect(await page.getByRole('heading', { name: 'Tasks' }).count()).toBe(0);
    expect(await page.getByRole('heading', { name: 'Outbox' }).count()).toBe(0);

    await go(page, '/integrations/github');
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    await page.getByText('GITHUB_TOKEN').first().waitFor();
    expect(await page.locator('main form').count()).toBe(0);
    expect(await page.locator('main input').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Reload', exact: true }).count()).toBe(0);

    const cookie = (await tab.context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const session = await fetch(`${url}/console/session`, { headers: { cookie } });
    expect(session.status).toBe(200);
    const { csrfToken } = (await session.json()) as { csrfToken: string };
    const forged = (route: string, method: string, body?: unknown) =>
      fetch(`${url}/api/v1${route}`, {
        method,
        headers: {
          cookie,
          origin: url,
          'x-csrf-token': csrfToken,
          'content-type': 'application/json',
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const put = await forged('/integrations/github/settings/GITHUB_TOKEN', 'PUT', {
      value: 'forged',
    });
    expect(put.status).toBe(403);
    expect(((await put.json()) as Json).error.code).toBe('forbidden');
    expect((await forged('/integrations/github/reload', 'POST', {})).status).toBe(403);
    // The same cookie and token do read: the 403 is the scope, not a broken request.
    expect((await forged('/integrations/github', 'GET')).status).toBe(200);
    const { body } = await adminApi<{ integration: Json }>(url, 'GET', '/integrations/github');
    expect(body.integration.settings.find((s: Json) => s.key === 'GITHUB_TOKEN').source).not.toBe(
      'database',
    );
    await tab.context.close();
  });

  it('an integration page fits a phone-width screen', async () => {
    const { browser, url } = suite();
    await settledStates(url);
    const tab = await openConsole(browser, url, { width: 390, height: 844 });
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    for (const route of ['/', '/integrations/github']) {
      await go(page, route);
      await page.locator('.page-header .badge, main .card').first().waitFor();
      await page.waitForLoadState('networkidle');
      const widths = (await page.evaluate(
        '({ scroll: document.body.scrollWidth, client: document.documentElement.clientWidth })',
      )) as { scroll: number; client: number };
      expect(widths.scroll, route).toBeLessThanOrEqual(widths.client);
    }
    await screenshot(page, 'integration-github-phone');
    await tab.context.close();
  });
});
