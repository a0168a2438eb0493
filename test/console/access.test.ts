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

/**
 * Issue 16: the Access (external tasks), API keys and Audit log pages, driven through the real
 * UI against the real gateway; every write is checked on the server as well.
 */
describe('console: access, keys, audit', () => {
  const suite = useConsoleSuite();

  /** An MCP ping to `endpoint` with a bearer token: the status tells whether the token works. */
  const ping = (endpoint: string, token: string) =>
    fetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });

  /** Accepts the next confirm() the page asks. */
  const acceptConfirm = (page: Page) => page.once('dialog', (d) => void d.accept());

  /** The console's session cookie and CSRF token of a signed-in tab. */
  async function sessionOf(page: Page, url: string) {
    const [cookie] = await page.context().cookies();
    const header = `${cookie!.name}=${cookie!.value}`;
    const res = await fetch(`${url}/console/session`, { headers: { cookie: header } });
    const { csrfToken } = (await res.json()) as { csrfToken: string };
    return { cookie: header, csrfToken };
  }

  let grantedTaskId = '';
  let revokedPrefix = '';

  it('grants an external task, copies its Claude Code config, and ends it: the token works until then', async () => {
    const { browser, url } = suite();
    const { body } = await adminApi<{ integrations: Array<{ name: string; state: string }> }>(
      url,
      'GET',
      '/integrations',
    );
    const ready = body.integrations.find((i) => i.state === 'ready');
    expect(ready, JSON.stringify(body.integrations.map((i) => [i.name, i.state]))).toBeDefined();
    const name = ready!.name;

    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    await go(page, '/access');
    await page.getByRole('heading', { name: 'Grant an external task' }).waitFor();
    await page.getByText(`${name}:* every tool of ${name}`).waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);

    await page.getByLabel(`${name}:* every tool of ${name}`).check();
    await page.getByLabel('Time to live').fill('30m');
    await page.getByLabel('What the task is for (optional)').fill('review the release notes');
    await page.getByRole('button', { name: 'Grant task' }).click();
    const tokenField = page.getByLabel('Token for /mcp (every integration)');
    await tokenField.waitFor();
    await expect
      .poll(() => page.getByRole('status').first().textContent())
      .toContain('shown only now');
    const token = await tokenField.inputValue();
    const heading = await page.getByRole('heading', { name: /^Task granted: / }).textContent();
    grantedTaskId = heading!.replace('Task granted: ', '').trim();

    // The API agrees: a running external task with that scope, and the token works on /mcp.
    const task = await adminApi<{ task: { status: string; external: boolean; scope: string[] } }>(
      url,
      'GET',
      `/tasks/${grantedTaskId}`,
    );
    expect(task.body.task).toMatchObject({
      status: 'running',
      external: true,
      scope: [`${name}:*`],
    });
    expect((await ping(`${url}/mcp`, token)).status).toBe(200);
    const perIntegration = await page.getByLabel(`Token for ${name}`).inputValue();
    expect((await ping(`${url}/mcp/${name}`, perIntegration)).status).toBe(200);

    // The Claude Code config, copied to the clipboard: JSON naming the gateway's /mcp URLs.
    await page.getByRole('tab', { name: 'Claude Code' }).first().click();
    const copy = page.getByRole('button', { name: 'Copy Claude Code config' }).first();
    await copy.waitFor();
    await copy.click();
    await page.getByRole('button', { name: 'Copied' }).first().waitFor();
    const clipboard = (await page.evaluate('navigator.clipboard.readText()')) as string;
    const config = JSON.parse(clipboard) as {
      mcpServers: Record<string, { type: string; url: string; headers: Record<string, string> }>;
    };
    expect(config.mcpServers[name]).toMatchObject({ type: 'http', url: `${url}/mcp/${name}` });
    expect(config.mcpServers.switchboard?.url).toBe(`${url}/mcp/switchboard`);
    // Token-free: the file names variables; their values are in the environment block.
    expect(clipboard).not.toContain(token);
    expect(clipboard).toContain('${SWITCHBOARD_TOKEN_');
    // The other agents' formats are one tab away.
    await page.getByRole('tab', { name: 'Codex' }).first().click();
    await page.getByRole('button', { name: 'Copy Codex config' }).first().waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'access');

    // End it from the list of active external tasks.
    const row = page.getByRole('row', { name: new RegExp(grantedTaskId.slice(0, 8)) });
    acceptConfirm(page);
    await row.getByRole('button', { name: 'End' }).click();
    await row.waitFor({ state: 'detached' });
    const ended = await adminApi<{ task: { status: string } }>(
      url,
      'GET',
      `/tasks/${grantedTaskId}`,
    );
    expect(ended.body.task.status).toBe('cancelled');
    expect((await ping(`${url}/mcp`, token)).status).toBe(401);
    expect((await ping(`${url}/mcp/${name}`, perIntegration)).status).toBe(401);
    expect(tab.problems).toEqual([]);
    await tab.context.close();
  });

  it('creates a key with a subset of scopes, shown once, and revokes it', async () => {
    const { browser, url } = suite();
    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    await go(page, '/keys');
    await page.getByLabel('Name').fill('ci-replay');
    await page.getByLabel('audit:read').check();
    await page.getByLabel('tasks:read').check();
    await page.getByRole('button', { name: 'Create key' }).click();
    const field = page.getByLabel('New key');
    await field.waitFor();
    const key = await field.inputValue();
    expect(key).toMatch(/^sbk_/);
    const { body } = await adminApi<{
      keys: Array<{ id: string; prefix: string; name: string; scopes: string[] }>;
    }>(url, 'GET', '/keys');
    const made = body.keys.find((k) => key.startsWith(k.prefix) && k.name === 'ci-replay');
    expect(made?.scopes.sort()).toEqual(['audit:read', 'tasks:read']);
    // It works with those scopes and no others.
    const as = (path: string) =>
      fetch(`${url}/api/v1${path}`, { headers: { authorization: `Bearer ${key}` } });
    expect((await as('/audit?limit=1')).status).toBe(200);
    expect((await as('/keys')).status).toBe(403);
    await page.getByRole('row', { name: new RegExp(made!.prefix) }).waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'keys');

    // Shown once: gone after Done, and not there after a reload either.
    await page.getByRole('button', { name: 'Done' }).click();
    expect(await page.getByLabel('New key').count()).toBe(0);
    await page.reload();
    await page.getByRole('row', { name: new RegExp(made!.prefix) }).waitFor();
    expect(await page.getByLabel('New key').count()).toBe(0);
    expect(await page.content()).not.toContain(key);

    // Revoke (confirmed): the row leaves the list, the server has it revoked, the key is refused.
    const row = page.getByRole('row', { name: new RegExp(made!.prefix) });
    acceptConfirm(page);
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.waitFor({ state: 'detached' });
    const all = await adminApi<{ keys: Array<{ id: string; revokedAt: string | null }> }>(
      url,
      'GET',
      '/keys?includeRevoked=true',
    );
    expect(all.body.keys.find((k) => k.id === made!.id)?.revokedAt).not.toBeNull();
    expect((await as('/audit?limit=1')).status).toBe(401);
    revokedPrefix = made!.prefix;
    // Still listed with "Show revoked keys", as revoked.
    await page.getByLabel('Show revoked keys').check();
    await expect
      .poll(() => page.getByRole('row', { name: new RegExp(made!.prefix) }).textContent())
      .toContain('revoked');
    expect(tab.problems).toEqual([]);
    await tab.context.close();
  });

  it('a key without * is offered only its own scopes, and a forged wider create is refused 403', async () => {
    const { browser, url } = suite();
    const narrow = await createKey(url, 'key-keeper', ['keys:read', 'keys:write', 'tasks:read']);
    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, narrow.key);
    await go(page, '/keys');
    await page.getByRole('button', { name: 'Create key' }).waitFor();
    const offered = await page
      .getByRole('group', { name: 'Scopes' })
      .getByRole('checkbox')
      .evaluateAll((boxes) => boxes.map((b) => (b as unknown as { value: string }).value));
    expect(offered.sort()).toEqual(['keys:read', 'keys:write', 'tasks:read']);
    expect(await page.getByText('every scope').count()).toBe(0);

    // With its session cookie and CSRF token, as the page would send it: wider is refused.
    const { cookie, csrfToken } = await sessionOf(page, url);
    const forge = (scopes: string[]) =>
      fetch(`${url}/api/v1/keys`, {
        method: 'POST',
        headers: {
          cookie,
          'x-csrf-token': csrfToken,
          origin: url,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ name: 'wider', scopes }),
      });
    for (const scopes of [['*'], ['audit:read'], ['tasks:*']]) {
      const res = await forge(scopes);
      expect(res.status, JSON.stringify(scopes)).toBe(403);
    }
    // The same request within its scopes is accepted: the refusal was the scope, not the form.
    expect((await forge(['tasks:read'])).status).toBe(201);
    expect(tab.problems).toEqual([]);
    await tab.context.close();
  });

  it('the audit log shows these actions, filters narrow it, and pages past 25 rows', async () => {
    const { browser, url } = suite();
    for (let i = 0; i < 50; i++) await createKey(url, `volume-${i}`, ['tasks:read']);
    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    await go(page, '/audit');
    const table = page.getByRole('table', { name: 'Audit entries' });
    const rows = table.locator('tbody tr');
    // Newest first: this sign-in is on top.
    await expect.poll(() => rows.first().textContent()).toContain('console.sign_in');
    expect(await rows.count()).toBe(25);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'audit');

    // A second page: 25 older entries, none repeated, ids lower (compared as numbers).
    const ids = () =>
      rows.evaluateAll((r) => r.map((x) => Number(x.firstElementChild?.textContent)));
    const first = await ids();
    await page.getByRole('button', { name: 'Older' }).click();
    await expect.poll(() => page.getByText('Page 2').count()).toBe(1);
    await expect.poll(async () => (await ids())[0]).toBeLessThan(Math.min(...first));
    const second = await ids();
    expect(second).toHaveLength(25);
    expect(second).toEqual([...second].sort((a, b) => b - a));
    await page.getByRole('button', { name: 'Newer' }).click();
    await expect.poll(async () => (await ids())[0]).toBe(first[0]);

    // Filters: the grant and end of the first test, the revoke of the second.
    const filterBy = async (fields: Record<string, string>) => {
      await page.getByRole('button', { name: 'Clear' }).click();
      for (const [label, value] of Object.entries(fields)) await page.getByLabel(label).fill(value);
      await page.getByRole('button', { name: 'Apply filters' }).click();
    };
    /** The texts of one column (0 Id, 1 Time, 2 Actor, 3 Action, 4 Target) of every row. */
    const column = (i: number) =>
      rows.evaluateAll((r, n) => r.map((x) => x.children[n]?.textContent ?? ''), i);
    const distinct = async (i: number) => [...new Set(await column(i))].sort();
    await filterBy({ Action: 'tasks.grant', Target: grantedTaskId });
    await expect.poll(() => column(4)).toEqual([grantedTaskId]);
    expect(await column(3)).toEqual(['tasks.grant']);
    await filterBy({ Target: grantedTaskId });
    await expect
      .poll(() => column(3))
      .toEqual(['tasks.cancel', 'tasks.config', 'tasks.config', 'tasks.grant']);
    await filterBy({ Action: 'keys.revoke' });
    await expect.poll(() => distinct(3)).toEqual(['keys.revoke']);
    expect(await column(4)).toContain(revokedPrefix);
    const session = await sessionOf(page, url);
    const who = (await (
      await fetch(`${url}/console/session`, { headers: { cookie: session.cookie } })
    ).json()) as { key: { prefix: string } };
    await filterBy({ Actor: `key:${who.key.prefix}`, Action: 'console.sign_in' });
    await expect.poll(() => distinct(3)).toEqual(['console.sign_in']);
    expect(await distinct(2)).toEqual([`key:${who.key.prefix}`]);
    expect(await rows.count()).toBeGreaterThanOrEqual(3);
    // A time range after now has nothing.
    const tomorrow = new Date(Date.now() + 86_400_000);
    const local = await page.evaluate((ms) => {
      const d = new Date(ms);
      const p = (n: number) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
    }, tomorrow.getTime());
    await filterBy({ Since: local });
    await page.getByText('No audit entries match.').waitFor();
    // The filters are in the address: a reload keeps them.
    expect(page.url()).toContain('since=');
    await page.reload();
    await page.getByText('No audit entries match.').waitFor();
    expect(await page.getByLabel('Since').inputValue()).toBe(local);
    expect(tab.problems).toEqual([]);
    await tab.context.close();
  });

  it('a read-only key (keys:read, audit:read, tasks:read) sees no grant, create, revoke or end control', async () => {
    const { browser, url } = suite();
    const running = await adminApi<{ task: { id: string } }>(url, 'POST', '/tasks', {
      external: true,
      scope: ['*:*'],
    });
    expect(running.status).toBe(201);
    const reader = await createKey(url, 'reader', ['keys:read', 'audit:read', 'tasks:read']);
    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, reader.key);

    await go(page, '/access');
    await page.getByRole('row', { name: new RegExp(running.body.task.id.slice(0, 8)) }).waitFor();
    await page.getByText('This key lacks tasks:write').waitFor();
    for (const name of ['Grant task', 'End', 'Config'])
      expect(await page.getByRole('button', { name }).count(), name).toBe(0);
    expect(await page.getByRole('checkbox').count()).toBe(0);
    expect(await seriousAxeViolations(page)).toEqual([]);

    await go(page, '/keys');
    await page.getByRole('row', { name: new RegExp(reader.prefix) }).waitFor();
    await page.getByText('This key lacks keys:write').waitFor();
    for (const name of ['Create key', 'Revoke'])
      expect(await page.getByRole('button', { name }).count(), name).toBe(0);

    await go(page, '/audit');
    await expect.poll(() => page.locator('tbody tr').count()).toBeGreaterThan(0);
    expect(tab.problems).toEqual([]);
    await tab.context.close();
    await adminApi(url, 'POST', `/tasks/${running.body.task.id}/cancel`, {});
  });

  it('at phone width the three pages fit the screen', async () => {
    const { browser, url } = suite();
    const tab = await openConsole(browser, url, { width: 390, height: 844 });
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    for (const [route, ready] of [
      ['/access', 'Grant task'],
      ['/keys', 'Create key'],
      ['/audit', 'Apply filters'],
    ] as const) {
      await go(page, route);
      await page.getByRole('button', { name: ready }).waitFor();
      await page.waitForLoadState('networkidle');
      const overflow = (await page.evaluate(
        'document.documentElement.scrollWidth - document.documentElement.clientWidth',
      )) as number;
      expect(overflow, route).toBeLessThanOrEqual(0);
    }
    await screenshot(page, 'audit-phone');
    expect(tab.problems).toEqual([]);
    await tab.context.close();
  });
});
