import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { ADMIN_KEY, REPO_ROOT } from '../helpers/gateway.ts';
import { startReceiver } from '../helpers/outbox.ts';
import { until } from '../helpers/until.ts';
import { githubHeaders } from '../helpers/webhooks.ts';

/**
 * Issue 16, the queue pages: deliveries (list, detail, replay), the outbox (dead letters,
 * redrive one and all) and approvals (held tool calls approved and denied), through the real
 * gateway process and Chromium. The policy is the development default plus the echo fixture, an
 * approvals rule on echo:sleep and 127.0.0.1 allowed as a webhook host (the test's receiver).
 */

// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; the API validates them
type Json = Record<string, any>;

const GITHUB_SECRET = 'dev-only-github-webhook-secret';
const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-console-queues-'));
const POLICY = path.join(DIR, 'policy.yaml');
const defaults = fs.readFileSync(path.join(REPO_ROOT, 'policy/default.yaml'), 'utf8');
if (!defaults.includes('allowHosts: []')) throw new Error('policy/default.yaml changed shape');
fs.writeFileSync(
  POLICY,
  `${defaults
    .replace('allowHosts: []', 'allowHosts: [127.0.0.1]')
    .replace('\nintegrations:\n', '\nintegrations:\n  echo: { enabled: true }\n')}
approvals:
  - name: reviewed-sleeps
    tools: ["echo:sleep"]
    message: a person approves every sleep
`,
);

/** A signed GitHub delivery with extra headers a sender might add; answers the row id. */
async function sendGithub(
  url: string,
  event: string,
  payload: unknown,
  extra: Record<string, string> = {},
): Promise<string> {
  const body = JSON.stringify(payload);
  const res = await fetch(`${url}/hooks/github/events`, {
    method: 'POST',
    headers: { ...githubHeaders(GITHUB_SECRET, body, randomUUID(), event), ...extra },
    body,
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

const PR_OPENED = {
  action: 'opened',
  number: 42,
  pull_request: {
    number: 42,
    title: 'Add dark mode',
    body: 'A theme.',
    html_url: 'https://github.com/acme/api/pull/42',
  },
  repository: { full_name: 'acme/api' },
  sender: { login: 'ada', type: 'User' },
};

/** What a page's script may read: the body's width against the viewport's. */
const overflow = (page: Page) =>
  page.evaluate(
    '({ body: document.documentElement.scrollWidth, viewport: window.innerWidth })',
  ) as Promise<{ body: number; viewport: number }>;

/** From inside the signed-in page: its CSRF token, then a write with it; the status. */
const forgedWrite = (page: Page, route: string) =>
  page.evaluate(`(async () => {
    const session = await (await fetch('/console/session')).json();
    const res = await fetch('/api/v1${route}', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken },
      body: JSON.stringify({ reason: 'forged' }),
    });
    return res.status;
  })()`) as Promise<number>;

describe('console: deliveries, outbox and approvals', () => {
  const suite = useConsoleSuite({
    SWITCHBOARD_POLICY: POLICY,
    INTEGRATION_DIRS: `${path.join(REPO_ROOT, 'servers')}:${path.join(REPO_ROOT, 'test/fixtures/integrations')}`,
  });
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let prDelivery: string;
  let secretDelivery: string;
  const clients: Client[] = [];
  const held: Array<Promise<unknown>> = [];
  const approvalTasks: string[] = [];

  beforeAll(async () => {
    const { url } = suite();
    receiver = await startReceiver();
    // The receiver refuses with 400 (final at once): every event row is a dead letter.
    receiver.plan('/hook', [{ status: 400 }]);
    const sub = await adminApi<Json>(url, 'POST', '/subscriptions', {
      url: receiver.url('/hook'),
      types: ['task:created', 'task:running'],
    });
    expect(sub.status, JSON.stringify(sub.body)).toBe(201);

    // 28 pings (ignored), one PR opened (a task), one with secret-looking headers.
    for (let i = 0; i < 28; i++) await sendGithub(url, 'ping', { zen: `ping ${i}`, hook_id: i });
    prDelivery = await sendGithub(url, 'pull_request', PR_OPENED);
    secretDelivery = await sendGithub(
      url,
      'ping',
      { zen: 'headers' },
      {
        'x-gitlab-token': 'glpat-never-shown',
        'x-request-id': 'req-shown',
      },
    );

    // 30 external tasks: 30 task:running events, 30 dead letters (plus the PR's task).
    for (let i = 0; i < 30; i++) {
      const task = await adminApi<Json>(url, 'POST', '/tasks', {
        external: true,
        scope: ['notes:*'],
        prompt: `outbox row ${i}`,
      });
      expect(task.status, JSON.stringify(task.body)).toBe(201);
    }
    await until(
      '30 dead letters',
      async () => {
        const dead = await adminApi<Json>(url, 'GET', '/outbox?status=dead&limit=500');
        return dead.body.entries.length >= 30 ? true : undefined;
      },
      60_000,
    );

    // Held tool calls: an external task's MCP client calls echo:sleep, which the rule holds.
    await until('echo ready', async () => {
      const { body } = await adminApi<Json>(url, 'GET', '/integrations/echo');
      return body.integration?.state === 'ready' ? true : undefined;
    });
    // A task's token has at most 5 calls in flight: 6 tasks, 27 calls (argument ms 1…27).
    for (let t = 0; t < 6; t++) {
      const granted = await adminApi<Json>(url, 'POST', '/tasks', {
        external: true,
        scope: ['echo:*'],
      });
      approvalTasks.push(granted.body.task.id);
      const client = new Client({ name: 'console-queues', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
          requestInit: { headers: { authorization: `Bearer ${granted.body.mcp.token}` } },
        }),
      );
      clients.push(client);
      for (let i = t * 5; i < Math.min(27, t * 5 + 5); i++) {
        held.push(
          client
            .callTool({ name: 'echo__sleep', arguments: { ms: i + 1 } }, { timeout: 300_000 })
            .catch((e: unknown) => e),
        );
      }
    }
    await until('27 pending approvals', async () => {
      const { body } = await adminApi<Json>(url, 'GET', '/approvals?status=pending&limit=100');
      return body.approvals.length === 27 ? true : undefined;
    });
  }, 240_000);

  afterAll(async () => {
    // Ending the task cancels what is still held, so the calls return.
    for (const id of approvalTasks) await adminApi(suite().url, 'POST', `/tasks/${id}/cancel`, {});
    for (const client of clients) await client.close().catch(() => {});
    await receiver?.close();
    fs.rmSync(DIR, { recursive: true, force: true });
  });

  it('deliveries: pages past the first, filters, shows a delivery without secrets, replays it', async () => {
    const { browser, url } = suite();
    const tab = await openConsole(browser, url);
    const { page } = tab;
    page.on('dialog', (d) => void d.accept());
    await signIn(page, ADMIN_KEY);
    await go(page, '/deliveries');
    const table = page.getByRole('table', { name: 'Deliveries' });
    await expect.poll(() => table.locator('tbody tr').count()).toBe(25);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'deliveries');
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByText('Page 2').waitFor();
    await expect.poll(() => table.locator('tbody tr').count()).toBeGreaterThanOrEqual(5);
    // A filter starts again at page 1: only the PR's delivery made a task that a handler ran.
    await page.getByLabel('Status').selectOption('failed');
    await page.getByText('No deliveries match.').waitFor();
    await page.getByLabel('Status').selectOption('');
    await expect.poll(() => table.locator('tbody tr').count()).toBe(25);

    // The signed PR delivery: its headers without the signature, its task, then a replay.
    await go(page, `/deliveries/${prDelivery}`);
    const tasks = page.getByRole('table', { name: 'Resulting tasks' });
    await tasks.locator('tbody tr').first().waitFor({ timeout: 30_000 });
    const headers = page.getByRole('table', { name: 'Headers' });
    await expect.poll(() => headers.textContent()).toContain('x-github-event');
    expect(await headers.textContent()).not.toContain('x-hub-signature');
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'delivery');

    await page.getByRole('button', { name: 'Replay' }).click();
    await page.getByText('Queued as a replay of').waitFor();
    const copyId = await page.evaluate(
      '(location.hash.match(/deliveries\\/([0-9a-f-]+)/) || [])[1]',
    );
    expect(copyId).toMatch(/^[0-9a-f-]{36}$/);
    expect(copyId).not.toBe(prDelivery);
    // The copy is processed anew: the API has its own task, and its page shows it.
    const copy = await until('the replay processed', async () => {
      const { body } = await adminApi<Json>(url, 'GET', `/deliveries/${copyId}`);
      // Its tasks are visible before its status commits (seen once in CI: 'processing').
      return body.delivery.tasks.length > 0 && body.delivery.status === 'done' ? body : undefined;
    });
    expect(copy.delivery).toMatchObject({ replayOf: prDelivery, status: 'done' });
    expect(copy.delivery.tasks).toHaveLength(1);
    await tasks.getByRole('link', { name: copy.delivery.tasks[0].id }).waitFor({ timeout: 15_000 });
    const original = await adminApi<Json>(url, 'GET', `/deliveries/${prDelivery}`);
    expect(copy.delivery.tasks[0].id).not.toBe(original.body.delivery.tasks[0].id);
    const audit = await adminApi<Json>(url, 'GET', '/audit?action=deliveries.replay');
    expect(audit.body.entries[0]).toMatchObject({ target: prDelivery });
    await page.getByRole('link', { name: prDelivery }).waitFor();

    // A sender's secret-looking header: shown as [hidden], its value nowhere on the page.
    await go(page, `/deliveries/${secretDelivery}`);
    await expect.poll(() => headers.textContent()).toContain('req-shown');
    expect(await headers.textContent()).toContain('x-gitlab-token[hidden]');
    expect(await page.content()).not.toContain('glpat-never-shown');
    expect(tab.problems).toEqual([]);
    await tab.context.close();
  });

  it('outbox: dead letters page past the first; redrive one (pending again), then all', async () => {
    const { browser, url } = suite();
    const tab = await openConsole(browser, url);
    const { page } = tab;
    page.on('dialog', (d) => void d.accept());
    await signIn(page, ADMIN_KEY);
    await go(page, '/outbox?status=dead');
    const table = page.getByRole('table', { name: 'Outbox entries' });
    await expect.poll(() => table.locator('tbody tr').count()).toBe(25);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'outbox');
    await page.getByRole('button', { name: 'Next page' }).click();
    await expect.poll(() => table.locator('tbody tr').count()).toBeGreaterThanOrEqual(5);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await page.getByText('Page 1').waitFor();

    // From now on the receiver answers 503 (retried): a redriven row stays pending.
    receiver.plan('/hook', [{ status: 503 }]);
    const first = table.locator('tbody tr').first();
    const id = (await first.getByRole('link', { name: /^#/ }).textContent())!.replace('#', '');
    await go(page, `/outbox/${id}`);
    await page.getByText('attempt 1 · HTTP 400').waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'outbox-entry');
    await page.getByRole('button', { name: 'Redrive' }).click();
    // Pending again with a fresh budget; its next try after the 503 is shown.
    await expect
      .poll(async () => (await adminApi<Json>(url, 'GET', `/outbox/${id}`)).body.entry.status, {
        timeout: 20_000,
      })
      .toBe('pending');
    // The page refreshes on its own schedule and may first show the retry's claim (processing).
    await expect
      .poll(() => page.locator('.kv').first().textContent(), { timeout: 20_000 })
      .toContain('pending');
    await page.getByText('HTTP 503').first().waitFor({ timeout: 20_000 });
    // Pending: a next try is shown (a time, not "—"), and the budget starts again.
    await expect
      .poll(() => page.locator('.kv').first().textContent())
      .toMatch(/Attempts\d+ of 10.*Next try\d{4}-\d\d-\d\d /);

    // Redrive all: every dead letter back to pending; the dead list is empty.
    const before = await adminApi<Json>(url, 'GET', '/outbox?status=dead&limit=500');
    expect(before.body.entries.length).toBeGreaterThanOrEqual(29);
    await go(page, '/outbox?status=dead');
    await expect.poll(() => table.locator('tbody tr').count()).toBe(25);
    await page.getByRole('button', { name: 'Redrive all dead' }).click();
    await page.getByText('No outbox entries match.').waitFor({ timeout: 20_000 });
    const after = await adminApi<Json>(url, 'GET', '/outbox?status=dead&limit=500');
    expect(after.body.entries).toEqual([]);
    const audit = await adminApi<Json>(url, 'GET', '/audit?action=outbox.redrive_all');
    expect(audit.body.entries[0].details.count).toBeGreaterThanOrEqual(before.body.entries.length);
    expect(tab.problems).toEqual([]);
    await tab.context.close();
  });

  it('approvals: pending held calls page past the first; approve one (the call proceeds), deny one with a reason', async () => {
    const { browser, url } = suite();
    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    await go(page, '/approvals');
    const table = page.getByRole('table', { name: 'Approval requests' });
    await expect.poll(() => table.locator('tbody tr').count()).toBe(25);
    expect(await table.textContent()).toContain('echo:sleep');
    expect(await table.textContent()).toContain('reviewed-sleeps');
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'approvals');
    await page.getByRole('button', { name: 'Next page' }).click();
    await expect.poll(() => table.locator('tbody tr').count()).toBe(2);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await expect.poll(() => table.locator('tbody tr').count()).toBe(25);

    // Approve the newest (ms 27 … the list is newest first): its call goes through.
    const pending = await adminApi<Json>(url, 'GET', `/approvals?status=pending&limit=100`);
    const [newest, second] = pending.body.approvals as Json[];
    const rowOf = (a: Json) =>
      table.locator('tbody tr').filter({ has: page.locator(`[title="${a.id}"]`) });
    await rowOf(newest!).getByLabel('Reason for echo:sleep').fill('looks fine');
    await rowOf(newest!).getByRole('button', { name: 'Approve' }).click();
    await expect.poll(() => rowOf(newest!).count()).toBe(0);
    const approved = await adminApi<Json>(url, 'GET', `/approvals/${newest!.id}`);
    expect(approved.body.approval).toMatchObject({ status: 'approved', reason: 'looks fine' });
    expect(approved.body.approval.decidedBy).toMatch(/^key:/);
    const ms = newest!.arguments.ms as number;
    const result = (await held[ms - 1]) as Json;
    expect(result.isError, JSON.stringify(result)).not.toBe(true);
    expect(result.content?.[0]?.text).toBe(`slept ${ms}`);

    // Deny needs a reason: refused in words without one, denied with it.
    await rowOf(second!).getByRole('button', { name: 'Deny' }).click();
    await rowOf(second!).getByText('A denial needs a reason.').waitFor();
    await rowOf(second!).getByLabel('Reason for echo:sleep').fill('too slow');
    await rowOf(second!).getByRole('button', { name: 'Deny' }).click();
    await expect.poll(() => rowOf(second!).count()).toBe(0);
    const denied = await adminApi<Json>(url, 'GET', `/approvals/${second!.id}`);
    expect(denied.body.approval).toMatchObject({ status: 'denied', reason: 'too slow' });
    const answer = (await held[(second!.arguments.ms as number) - 1]) as Json;
    expect(answer.isError).toBe(true);
    expect(answer.content[0].text).toContain('too slow');

    // The decided ones under "any": their decision shown.
    await page.getByLabel('Status').selectOption('denied');
    await expect.poll(() => table.textContent()).toContain('too slow');
    expect(tab.problems).toEqual([]);
    await tab.context.close();
  });

  it('a read-only key sees no Replay, Redrive or Approve, and a forged write with its cookie and CSRF token is refused 403', async () => {
    const { browser, url } = suite();
    const { key } = await createKey(url, 'queue-viewer', [
      'deliveries:read',
      'outbox:read',
      'approvals:read',
      'tasks:read',
    ]);
    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, key);
    await go(page, `/deliveries/${prDelivery}`);
    await page.getByRole('table', { name: 'Headers' }).waitFor();
    expect(await page.getByRole('button', { name: 'Replay' }).count()).toBe(0);

    await go(page, '/outbox');
    await page.getByRole('table', { name: 'Outbox entries' }).waitFor();
    expect(await page.getByRole('button', { name: /Redrive/ }).count()).toBe(0);
    const someId = (await adminApi<Json>(url, 'GET', '/outbox?limit=1')).body.entries[0].id;
    await go(page, `/outbox/${someId}`);
    await page.getByText('Attempts').first().waitFor();
    expect(await page.getByRole('button', { name: /Redrive/ }).count()).toBe(0);

    await go(page, '/approvals');
    const table = page.getByRole('table', { name: 'Approval requests' });
    await expect.poll(() => table.locator('tbody tr').count()).toBeGreaterThan(0);
    expect(await page.getByRole('button', { name: /Approve|Deny/ }).count()).toBe(0);
    expect(await table.getByRole('columnheader', { name: 'Decide' }).count()).toBe(0);

    const approval = (await adminApi<Json>(url, 'GET', '/approvals?status=pending&limit=1')).body
      .approvals[0];
    expect(await forgedWrite(page, `/deliveries/${prDelivery}/replay`)).toBe(403);
    expect(await forgedWrite(page, '/outbox/redrive')).toBe(403);
    expect(await forgedWrite(page, `/outbox/${someId}/redrive`)).toBe(403);
    expect(await forgedWrite(page, `/approvals/${approval.id}/approve`)).toBe(403);
    expect(await forgedWrite(page, `/approvals/${approval.id}/deny`)).toBe(403);
    const still = await adminApi<Json>(url, 'GET', `/approvals/${approval.id}`);
    expect(still.body.approval.status).toBe('pending');
    // 401: the session check before sign-in; 403: the forged writes.
    expect(tab.problems.filter((p) => !/40[13]/.test(p))).toEqual([]);
    await tab.context.close();
  });

  it('at phone width the outbox and approvals pages fit without sideways scrolling', async () => {
    const { browser, url } = suite();
    const tab = await openConsole(browser, url, { width: 390, height: 844 });
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    for (const route of ['/outbox', '/approvals', `/deliveries/${prDelivery}`]) {
      await go(page, route);
      await page.getByRole('table').first().waitFor();
      const { body, viewport } = await overflow(page);
      expect(body, route).toBeLessThanOrEqual(viewport);
    }
    await go(page, '/approvals');
    await page.getByRole('table').first().waitFor();
    await screenshot(page, 'approvals-phone');
    await tab.context.close();
  });
});
