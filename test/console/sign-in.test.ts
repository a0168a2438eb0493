import { describe, expect, it } from 'vitest';
import {
  createKey,
  openConsole,
  screenshot,
  seriousAxeViolations,
  signIn,
  useConsoleSuite,
} from '../helpers/console.ts';
import { ADMIN_KEY } from '../helpers/gateway.ts';

/** Issue 16 points 1–2: the console loads small and offline, and signs in with a key. */
describe('console: sign-in', () => {
  const suite = useConsoleSuite();

  it('first load is under 200 KB transferred, from this origin only, with the strict CSP', async () => {
    const { browser, url } = suite();
    const context = await browser.newContext();
    const page = await context.newPage();
    const loaded: Array<{ url: string; bytes: number }> = [];
    page.on('requestfinished', async (request) => {
      const sizes = await request.sizes();
      loaded.push({
        url: request.url(),
        bytes: sizes.responseBodySize + sizes.responseHeadersSize,
      });
    });
    const response = await page.goto(`${url}/console/`);
    await page.getByLabel('Operator API key').waitFor();
    await page.waitForLoadState('networkidle');
    const csp = response?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    const total = loaded.reduce((n, r) => n + r.bytes, 0);
    console.log(`console first load: ${loaded.length} requests, ${total} bytes transferred`);
    expect(loaded.length).toBeGreaterThanOrEqual(3); // the page, its script, its stylesheet
    expect(total).toBeLessThan(200 * 1024);
    for (const r of loaded) expect(new URL(r.url).origin).toBe(new URL(url).origin);
    await context.close();
  });

  it('a wrong key is refused in words; a right one signs in with an HttpOnly SameSite=Strict cookie', async () => {
    const { browser, url } = suite();
    const tab = await openConsole(browser, url);
    const { page } = tab;
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'sign-in');
    await page.getByLabel('Operator API key').fill('sbk_not-a-key-at-all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toContain('invalid or revoked API key');

    // The refused POST is the one error line the browser logs (a 401 it was meant to get).
    expect(tab.problems).toEqual([expect.stringContaining('401')]);
    tab.problems.length = 0;
    await signIn(page, ADMIN_KEY);
    const cookies = await tab.context.cookies();
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({
      name: 'switchboard_console',
      httpOnly: true,
      sameSite: 'Strict',
      secure: false,
      path: '/',
    });
    // The page holds neither the key nor the cookie's value anywhere a script could read it.
    const stored = await page.evaluate(
      '({ cookie: document.cookie, local: JSON.stringify(localStorage), session: JSON.stringify(sessionStorage) })',
    );
    expect(stored).toEqual({ cookie: '', local: '{}', session: '{}' });
    expect(tab.problems).toEqual([]);
    await tab.context.close();
  });

  it('sign-out ends the session on the server: the old cookie is refused afterwards', async () => {
    const { browser, url } = suite();
    const tab = await openConsole(browser, url);
    await signIn(tab.page, ADMIN_KEY);
    const [cookie] = await tab.context.cookies();
    await tab.page.getByRole('button', { name: 'Sign out' }).click();
    await tab.page.getByLabel('Operator API key').waitFor();
    const replay = await fetch(`${url}/api/v1/integrations`, {
      headers: { cookie: `${cookie!.name}=${cookie!.value}` },
    });
    expect(replay.status).toBe(401);
    await tab.context.close();
  });

  it('revoking the key ends its console sessions at once', async () => {
    const { browser, url } = suite();
    const { key, id } = await createKey(url, 'short-lived', ['*']);
    const tab = await openConsole(browser, url);
    await signIn(tab.page, key);
    const revoke = await fetch(`${url}/api/v1/keys/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(revoke.status).toBe(200);
    await tab.page.reload();
    await tab.page.getByLabel('Operator API key').waitFor();
    await tab.context.close();
  });
});
