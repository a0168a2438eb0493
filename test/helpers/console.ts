import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { ADMIN_KEY, REPO_ROOT } from './gateway.ts';
import { type GatewayProcess, startGatewayProcess } from './gateway-process.ts';
import { until } from './until.ts';

/**
 * The console's browser suite (test/console/): the real gateway process with the example
 * integrations, and Debian's Chromium driven by playwright-core. .ci/run installs Chromium when
 * it is missing; without it these tests fail (never skip).
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = path.join(REPO_ROOT, 'results/console');

export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH); .ci/run installs it`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    // As root (CI, containers) Chromium refuses to start with its sandbox.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

export interface ConsoleTab {
  context: BrowserContext;
  page: Page;
  /** Console errors, page errors and CSP violations seen so far (a clean run has none). */
  problems: string[];
}

/** A fresh browser context (its own cookies) on the console's sign-in page. */
export async function openConsole(
  browser: Browser,
  url: string,
  options: { width?: number; height?: number } = {},
): Promise<ConsoleTab> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1280, height: options.height ?? 860 },
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  await page.goto(`${url}/console/`);
  return { context, page, problems };
}

/** Signs in on the sign-in page and waits for the navigation to show. */
export async function signIn(page: Page, key: string): Promise<void> {
  await page.getByLabel('Operator API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Console' }).waitFor();
}

/** Goes to a console view by its hash route (e.g. '/tasks/12'). */
export async function go(page: Page, route: string): Promise<void> {
  // Runs in the page (the test's tsconfig has no DOM types, hence globalThis).
  await page.evaluate((hash) => {
    (globalThis as unknown as { location: { hash: string } }).location.hash = hash;
  }, `#${route}`);
}

/** results/console/<name>.png (full page), for people to look at; not compared. */
export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** An operator key made through the API with the admin key: `{ key, prefix }`. */
export async function createKey(
  url: string,
  name: string,
  scopes: string[],
): Promise<{ key: string; prefix: string; id: string }> {
  const res = await fetch(`${url}/api/v1/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, scopes }),
  });
  if (res.status !== 201) throw new Error(`creating a key: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { key: string; apiKey: { prefix: string; id: string } };
  return { key: body.key, prefix: body.apiKey.prefix, id: body.apiKey.id };
}

/** The admin key's request to the API (test setup and checks, not what the browser does). */
export async function adminApi<T = unknown>(
  url: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${url}/api/v1${route}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_KEY}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * axe-core on the page as it is now (WCAG 2.1 A and AA rules); the serious and critical
 * violations. Injected through the DevTools protocol, which the page's CSP does not govern.
 */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (...a: unknown[]) => Promise<unknown> } })
      .axe;
    const result = (await axe.run({
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    })) as {
      violations: Array<{
        id: string;
        impact: string | null;
        help: string;
        nodes: Array<{ target: unknown[] }>;
      }>;
    };
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => JSON.stringify(n.target)),
    }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export interface ConsoleSuite {
  gateway: GatewayProcess;
  browser: Browser;
  url: string;
}

/**
 * One gateway process (with the example integrations in servers/ unless `env` says otherwise)
 * and one Chromium for a describe block. Returns a getter, valid once beforeAll has run.
 */
export function useConsoleSuite(env: Record<string, string> = {}): () => ConsoleSuite {
  let suite: ConsoleSuite | undefined;
  let gateway: GatewayProcess | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    gateway = await startGatewayProcess({
      INTEGRATION_DIRS: path.join(REPO_ROOT, 'servers'),
      ...env,
    });
    browser = await launchBrowser();
    // The pages list the integrations and grant their tools: wait until every server is ready or
    // failed (/readyz 200). Started from dist/, the examples settle in ~1 s, and a test that asked
    // at once found them all `starting` (CI, PostgreSQL pass).
    const started = gateway;
    await until('the integrations to settle (/readyz 200)', async () =>
      (await fetch(`${started.url}/readyz`)).status === 200 ? true : undefined,
    );
    suite = { gateway, browser, url: gateway.url };
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await gateway?.cleanup();
  });
  return () => {
    if (!suite) throw new Error('useConsoleSuite: not started yet');
    return suite;
  };
}
