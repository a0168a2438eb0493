import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EgressRecord } from '../../gateway/src/egress/types.ts';
import {
  adminApi,
  createKey,
  go,
  launchBrowser,
  openConsole,
  screenshot,
  seriousAxeViolations,
  signIn,
} from '../helpers/console.ts';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';

/**
 * Issue 21: the console's Egress page (the egress proxy's connection log) and the integrations'
 * egress mode. The gateway runs in this process (not as a child like the other console files)
 * so the test can write the log through the gateway's own EgressAudit, as the proxy does:
 * 33 connections of 3 integrations, then checked through Chromium against GET /api/v1/egress.
 */

const INTEGRATIONS = ['github', 'weather', 'notes'] as const;
/** 33 rows: one page of 25 and a second of 8, and ids on both sides of 9 (numeric order). */
const ROWS = 33;
const TASK = randomUUID();
const ADVISORY_TITLE =
  'its programs are told the proxy; one that ignores HTTPS_PROXY is not stopped';

interface Connection {
  id: string;
  integration: string | null;
  outcome: string;
}

/**
 * Row i (0-based, in the order recorded): 11 rows of each integration in turn, every third row
 * refused (so each integration has some), every seventh of the rest failed.
 */
function seedRow(i: number, start: number): EgressRecord {
  const refused = i % 3 === 0;
  const failed = !refused && i % 7 === 0;
  const integration = INTEGRATIONS[Math.floor(i / 11)]!;
  return {
    integration,
    taskId: i === ROWS - 1 ? TASK : undefined,
    kind: 'connect',
    host: refused ? `blocked-${i}.example.net` : `api.${integration}.example.com`,
    port: 443,
    address: refused ? undefined : '192.0.2.10',
    outcome: refused ? 'refused' : failed ? 'failed' : 'allowed',
    reason: refused ? 'host_not_granted' : failed ? 'connect_failed' : undefined,
    bytesUp: refused ? 0 : 1_000 + i,
    bytesDown: refused ? 0 : 150_000 * i,
    startedAt: new Date(start + i * 1_000),
    durationMs: refused ? 1 : 250 + i,
    mtls: i === ROWS - 2,
  };
}

/** The Id column of the Egress table, as numbers, top to bottom. */
const shownIds = (page: Page) =>
  page
    .getByRole('table', { name: 'Egress connections' })
    .locator('tbody tr td:first-child')
    .allTextContents()
    .then((ids) => ids.map(Number));

const navLinks = (page: Page) =>
  page.getByRole('navigation', { name: 'Console' }).getByRole('link').allTextContents();

describe('console: egress', () => {
  const gw = useTestGateway({ INTEGRATION_DIRS: path.join(REPO_ROOT, 'servers') });
  let browser: Browser;
  let all: Connection[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
    const egress = gw().egress;
    if (!egress) throw new Error('the test gateway has no egress proxy (SWITCHBOARD_EGRESS=off?)');
    const start = Date.now() - ROWS * 1_000;
    for (let i = 0; i < ROWS; i++) egress.audit.record(seedRow(i, start));
    await egress.audit.flush();
    const listed = await adminApi<{ connections: Connection[] }>(
      gw().url,
      'GET',
      '/egress?limit=500',
    );
    expect(listed.status).toBe(200);
    all = listed.body.connections;
    expect(all.length).toBe(ROWS);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('an admin key finds Egress in the navigation; 25 rows newest first, then Older shows the rest', async () => {
    const url = gw().url;
    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    const links = await navLinks(page);
    expect(links).toContain('Egress');
    // Placed after the audit log.
    expect(links.indexOf('Egress')).toBe(links.indexOf('Audit log') + 1);

    await page
      .getByRole('navigation', { name: 'Console' })
      .getByRole('link', { name: 'Egress' })
      .click();
    await page.getByRole('heading', { name: 'Egress', level: 1 }).waitFor();
    await page.getByRole('table', { name: 'Egress connections' }).waitFor();
    const first = await shownIds(page);
    expect(first).toHaveLength(25);
    // Newest first, in numeric order (a text sort would put 9 before 33 and 10 after 1).
    expect(first).toEqual([...first].sort((a, b) => b - a));
    expect(first).toEqual(all.slice(0, 25).map((c) => Number(c.id)));

    // The newest row carries the task's link, the one before it the mTLS badge.
    expect(await page.getByRole('link', { name: TASK.slice(0, 8) }).getAttribute('href')).toBe(
      `#/tasks/${TASK}`,
    );
    expect(await page.locator('tbody .badge', { hasText: 'mTLS' }).count()).toBe(1);
    // Refused rows stand out (the row's class and the bad badge), and say why.
    const refusedRows = page.locator('tbody tr.egress-refused');
    expect(await refusedRows.count()).toBe(
      all.slice(0, 25).filter((c) => c.outcome === 'refused').length,
    );
    expect(await refusedRows.first().textContent()).toContain('host not granted');
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'egress');

    await page.getByRole('button', { name: 'Older' }).click();
    await page.getByText('Page 2').waitFor();
    await expect.poll(() => shownIds(page)).toEqual(all.slice(25).map((c) => Number(c.id)));
    const second = await shownIds(page);
    expect(second.length).toBe(ROWS - 25);
    expect(Math.max(...second)).toBeLessThan(Math.min(...first));
    expect(await page.getByRole('button', { name: 'Older' }).isDisabled()).toBe(true);

    await page.getByRole('button', { name: 'Newer' }).click();
    await expect.poll(() => shownIds(page)).toEqual(first);
    expect(tab.problems).toEqual([]);
    await tab.context.close();
  });

  it('the outcome filter shows only refused connections, and the filter is in the URL', async () => {
    const url = gw().url;
    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    await go(page, '/egress');
    await page.getByRole('table', { name: 'Egress connections' }).waitFor();
    await page.getByLabel('Outcome').selectOption('refused');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const refused = all.filter((c) => c.outcome === 'refused').map((c) => Number(c.id));
    expect(refused.length).toBeGreaterThan(5);
    await expect.poll(() => shownIds(page)).toEqual(refused);
    const outcomes = await page
      .getByRole('table', { name: 'Egress connections' })
      .locator('tbody .badge')
      .allTextContents();
    expect(new Set(outcomes)).toEqual(new Set(['refused']));
    expect(await page.evaluate('location.hash')).toContain('outcome=refused');

    // A reload keeps the filter; with the integration too, only that one's refused rows.
    await page.reload();
    await expect.poll(() => shownIds(page)).toEqual(refused);
    await page.getByLabel('Integration').fill('notes');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const notes = all.filter((c) => c.outcome === 'refused' && c.integration === 'notes');
    expect(notes.length).toBe(3);
    await expect.poll(() => shownIds(page)).toEqual(notes.map((c) => Number(c.id)));
    expect(tab.problems).toEqual([]);
    await tab.context.close();
  });

  it("the integrations list and an integration's page show its egress mode", async () => {
    const url = gw().url;
    const { body } = await adminApi<{
      integrations: Array<{ name: string; state: string; egress: string | null }>;
    }>(url, 'GET', '/integrations');
    const planned = body.integrations.find((i) => i.egress !== null);
    expect(planned, JSON.stringify(body.integrations)).toBeDefined();
    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    await go(page, '/integrations');
    const row = page
      .getByRole('table', { name: 'Integrations' })
      .getByRole('row')
      .filter({ has: page.getByRole('link', { name: planned!.name, exact: true }) });
    const badge = row.locator('.badge', { hasText: planned!.egress! });
    await badge.waitFor();
    if (planned!.egress === 'advisory')
      expect(await badge.getAttribute('title')).toBe(ADVISORY_TITLE);

    await go(page, `/integrations/${planned!.name}`);
    await page.getByRole('heading', { name: 'State' }).waitFor();
    await expect.poll(() => page.getByText(/^Egress:/).textContent()).toContain(planned!.egress!);
    expect(tab.problems).toEqual([]);
    await tab.context.close();
  });

  it('a key without audit:read has no Egress in the navigation', async () => {
    const url = gw().url;
    const narrow = await createKey(url, 'no-audit', ['tasks:read', 'integrations:read']);
    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, narrow.key);
    const links = await navLinks(page);
    expect(links).toContain('Tasks');
    expect(links).not.toContain('Egress');
    expect(links).not.toContain('Audit log');
    // The API refuses it the log as well: the navigation follows the gateway's rule.
    const res = await fetch(`${url}/api/v1/egress`, {
      headers: { authorization: `Bearer ${narrow.key}` },
    });
    expect(res.status).toBe(403);
    expect(tab.problems).toEqual([]);
    await tab.context.close();
  });
});
