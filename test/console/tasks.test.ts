import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { writeConsoleTasksPolicy } from '../fixtures/console/policy.ts';
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
 * Issue 16, the Tasks and Sessions pages: a task's live event timeline over SSE, Cancel, the
 * paged and filtered task list, a session's messages and its post form, and what a read-only
 * key does not see. The `live` profile runs test/fixtures/console/live-agent.mjs, which waits
 * for a gate file the test writes once the page is open.
 */

// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; the API validates them
type Json = Record<string, any>;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-console-tasks-test-'));
let gates = 0;
const newGate = () => path.join(tmp, `gate-${++gates}`);

/** The timeline's entries of one event type. */
const events = (page: Page, type: string) =>
  page.locator(`ol[aria-label="Task events"] li[data-type="${type}"]`);

/** The page's errors (console errors, page errors, CSP violations): a clean run has none. */
const consoleProblems = (problems: string[]) => problems;

const hashOf = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { location: { hash: string } }).location.hash);

/** A marker in the page's window: still there later means the page was not reloaded. */
const mark = (page: Page) =>
  page.evaluate(() => {
    (globalThis as unknown as { __notReloaded: boolean }).__notReloaded = true;
  });
const stillMarked = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { __notReloaded?: boolean }).__notReloaded);

describe('console: tasks and sessions', () => {
  const suite = useConsoleSuite({ SWITCHBOARD_POLICY: writeConsoleTasksPolicy() });

  const createTask = async (body: Json): Promise<Json> => {
    const { status, body: answer } = await adminApi<Json>(suite().url, 'POST', '/tasks', body);
    expect(status, JSON.stringify(answer)).toBe(201);
    return answer.task;
  };
  const getTask = async (id: string): Promise<Json> =>
    (await adminApi<Json>(suite().url, 'GET', `/tasks/${id}`)).body.task;

  it('runs a scripted task and shows its events arrive live, without a reload', async () => {
    const { browser, url } = suite();
    const gate = newGate();
    const task = await createTask({ profile: 'live', prompt: JSON.stringify({ gate }) });
    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    await go(page, `/tasks/${task.id}`);
    await page.getByRole('heading', { name: `Task ${task.id.slice(0, 8)}` }).waitFor();
    // The agent is running and waiting: its first line is on the page, no tool call yet.
    await page.getByText('waiting for the go', { exact: true }).waitFor({ timeout: 30_000 });
    await page.getByText('Live: new events appear as they happen.').waitFor();
    expect(await events(page, 'task:tool_use').count()).toBe(0);
    expect(await events(page, 'task:done').count()).toBe(0);
    await mark(page);

    fs.writeFileSync(gate, 'go');
    const toolCall = events(page, 'task:tool_use');
    await toolCall.waitFor({ timeout: 30_000 });
    expect(await toolCall.textContent()).toMatch(
      /tool call.*fixture · test_simple_text — ok in \d/,
    );
    await events(page, 'task:done').waitFor({ timeout: 30_000 });
    expect(await events(page, 'task:progress').textContent()).toContain(
      'read the fixture (1 of 2)',
    );
    expect(await events(page, 'task:done').textContent()).toContain('The task completed.');
    await page.getByText('The task has ended: this is its whole history.').waitFor();
    expect(await stillMarked(page)).toBe(true);

    // The fields follow: complete, with the result; the tokens are shown revoked, no values.
    const result = page.getByRole('region', { name: 'Result' });
    await result.getByText('the fixture said: This is a simple text response').waitFor();
    await page.locator('.page-header .badge', { hasText: 'complete' }).waitFor();
    const tokens = page.getByRole('table', { name: 'Tokens of the task' });
    await tokens.getByText('revoked').first().waitFor();
    expect(await tokens.getByText('active').count()).toBe(0);
    const body = (await page.locator('main').textContent()) ?? '';
    expect(body).not.toMatch(/eyJ[\w-]+\.[\w-]+\./); // no JWT anywhere on the page
    expect(await page.getByRole('button', { name: 'Cancel task' }).count()).toBe(0);

    const done = await getTask(task.id);
    expect(done).toMatchObject({
      status: 'complete',
      result: 'the fixture said: This is a simple text response for testing.',
    });
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'task');
    expect(consoleProblems(tab.problems)).toEqual([]);
    await tab.context.close();
  });

  it('cancels a running task from its page; the page and the API agree it is cancelled', async () => {
    const { browser, url } = suite();
    const task = await createTask({ profile: 'live', prompt: JSON.stringify({ gate: newGate() }) });
    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    await go(page, `/tasks/${task.id}`);
    await page.getByText('waiting for the go', { exact: true }).waitFor({ timeout: 30_000 });
    await page.locator('.page-header .badge', { hasText: 'running' }).waitFor();
    await mark(page);
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Cancel task' }).click();
    await events(page, 'task:cancelled').waitFor({ timeout: 15_000 });
    expect(await events(page, 'task:cancelled').textContent()).toMatch(
      /The task was cancelled by .+ while running\./,
    );
    await page.locator('.page-header .badge', { hasText: 'cancelled' }).waitFor();
    await page.getByRole('button', { name: 'Cancel task' }).waitFor({ state: 'detached' });
    expect(await stillMarked(page)).toBe(true);
    expect(await getTask(task.id)).toMatchObject({ status: 'cancelled' });
    const { body } = await adminApi<Json>(url, 'GET', `/tasks/${task.id}/tokens`);
    expect(body.tokens.length).toBeGreaterThan(0);
    for (const t of body.tokens) expect(t.revokedAt).toEqual(expect.any(String));
    expect(consoleProblems(tab.problems)).toEqual([]);
    await tab.context.close();
  });

  it('lists 30 tasks a page at a time, filters kept in the link', async () => {
    const { browser, url } = suite();
    const made: string[] = [];
    for (let i = 1; i <= 30; i++) {
      const t = await createTask({ profile: 'held', prompt: `Review pull request #${i}` });
      made.push(t.id);
    }
    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    await go(page, '/tasks');
    const table = page.getByRole('table', { name: 'Tasks' });
    await table.getByText('Review pull request #30').waitFor();
    expect(await table.locator('tbody tr').count()).toBe(25);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'tasks');

    // Filter by profile: the query keeps it, and the second page is reached with the cursor.
    await page.getByLabel('Profile', { exact: true }).fill('held');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => hashOf(page)).toContain('profile=held');
    await page.getByRole('link', { name: 'Older tasks →' }).click();
    await table.getByText('Review pull request #5', { exact: true }).waitFor();
    const hash = await hashOf(page);
    expect(hash).toMatch(/profile=held/);
    expect(hash).toMatch(/cursor=\d+/);
    expect(await table.locator('tbody tr').count()).toBe(5);
    for (let i = 1; i <= 5; i++) {
      await table.getByText(`Review pull request #${i}`, { exact: true }).waitFor();
    }
    // The link holds the view: opened afresh it shows the same page.
    await page.reload();
    await table.getByText('Review pull request #1', { exact: true }).waitFor();
    expect(await table.locator('tbody tr').count()).toBe(5);

    // Status: the cancelled task of the test before, and none of the pending ones.
    await go(page, '/tasks');
    await page.getByLabel('Status', { exact: true }).selectOption('cancelled');
    await expect.poll(() => hashOf(page)).toContain('status=cancelled');
    await expect.poll(() => table.locator('tbody tr').count()).toBe(1);
    expect(await table.getByText('Review pull request').count()).toBe(0);
    expect(consoleProblems(tab.problems)).toEqual([]);
    await tab.context.close();
  });

  it('a session page shows its messages and tasks, and posts a message that runs the agent', async () => {
    const { browser, url } = suite();
    for (let i = 1; i <= 27; i++) {
      const key = `chat:team-${String(i).padStart(2, '0')}`;
      expect((await adminApi(url, 'POST', '/sessions', { key, profile: 'held' })).status).toBe(201);
    }
    const { body } = await adminApi<Json>(url, 'POST', '/sessions', {
      key: 'github:acme/api#42',
      profile: 'held',
      metadata: { title: 'Fix the flaky test' },
    });
    const session = body.session;
    await adminApi(url, 'POST', `/sessions/${session.id}/messages`, {
      content: 'Please look at the failing build.',
    });
    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    await go(page, '/sessions');
    const sessions = page.getByRole('table', { name: 'Sessions' });
    await sessions.getByText('github:acme/api#42').waitFor();
    expect(await sessions.locator('tbody tr').count()).toBe(25);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'sessions');
    await page.getByRole('link', { name: 'Older sessions →' }).click();
    await sessions.getByText('chat:team-01').waitFor();
    expect(await sessions.locator('tbody tr').count()).toBe(3);
    await go(page, '/sessions');
    await sessions.getByRole('link', { name: 'github:acme/api#42' }).click();

    await page.getByRole('heading', { name: 'Session github:acme/api#42' }).waitFor();
    await page.getByText('Please look at the failing build.').waitFor();
    await page.getByLabel('Message', { exact: true }).fill('Run the tests again, please.');
    await page.getByLabel(/Run the agent on it/).check();
    await page.getByRole('button', { name: 'Post message' }).click();
    const notice = page.getByRole('status').filter({ hasText: 'posted' });
    await notice.waitFor();
    expect(await notice.textContent()).toMatch(/Message #\d+ posted; it started task [0-9a-f]{8}/);
    const messages = page.getByRole('list', { name: 'Messages' });
    await messages.getByText('Run the tests again, please.').waitFor();
    const tasks = page.getByRole('table', { name: 'Tasks' });
    await tasks.getByText('Run the tests again, please.').waitFor();

    const listed = await adminApi<Json>(url, 'GET', `/sessions/${session.id}/messages`);
    expect(listed.body.messages.map((m: Json) => m.content)).toEqual([
      'Please look at the failing build.',
      'Run the tests again, please.',
    ]);
    const sessionTasks = await adminApi<Json>(url, 'GET', `/tasks?session=${session.id}`);
    expect(sessionTasks.body.tasks).toHaveLength(1);
    expect(sessionTasks.body.tasks[0]).toMatchObject({
      prompt: 'Run the tests again, please.',
      profile: 'held',
      messageId: listed.body.messages[1].id,
    });
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'session');

    // The task's link leads to its page, which links back to the session.
    await notice.getByRole('link').click();
    await page.getByRole('link', { name: session.id }).waitFor();
    expect(consoleProblems(tab.problems)).toEqual([]);
    await tab.context.close();
  });

  it('a read-only key (tasks:read, sessions:read) sees no Cancel button and no post form', async () => {
    const { browser, url } = suite();
    const { key } = await createKey(url, 'watcher', ['tasks:read', 'sessions:read']);
    const task = await createTask({
      profile: 'held',
      prompt: 'Pending for the read-only key',
      session: 'github:acme/read-only',
    });
    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, key);
    await go(page, `/tasks/${task.id}`);
    await page
      .getByRole('region', { name: 'Prompt' })
      .getByText('Pending for the read-only key')
      .waitFor();
    await page.locator('.page-header .badge', { hasText: 'pending' }).waitFor();
    expect(await page.getByRole('button', { name: 'Cancel task' }).count()).toBe(0);
    await events(page, 'task:created').waitFor();

    await go(page, `/sessions/${task.sessionId}`);
    await page.getByRole('heading', { name: 'Session github:acme/read-only' }).waitFor();
    await page
      .getByRole('table', { name: 'Tasks' })
      .getByText('Pending for the read-only key')
      .waitFor();
    expect(await page.getByRole('button', { name: 'Post message' }).count()).toBe(0);
    expect(await page.getByLabel('Message', { exact: true }).count()).toBe(0);
    // The server refuses it anyway.
    const refused = await fetch(`${url}/api/v1/sessions/${task.sessionId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'no' }),
    });
    expect(refused.status).toBe(403);
    expect(consoleProblems(tab.problems)).toEqual([]);
    await tab.context.close();
  });

  it('the task page fits a phone-width screen', async () => {
    const { browser, url } = suite();
    const [first] = (await adminApi<Json>(url, 'GET', '/tasks?status=complete')).body.tasks;
    const tab = await openConsole(browser, url, { width: 390, height: 844 });
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    await go(page, `/tasks/${first.id}`);
    await events(page, 'task:done').waitFor();
    const overflow = await page.evaluate(() => {
      const doc = (
        globalThis as unknown as {
          document: { documentElement: { scrollWidth: number; clientWidth: number } };
        }
      ).document;
      return doc.documentElement.scrollWidth - doc.documentElement.clientWidth;
    });
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, 'task-phone');
    await tab.context.close();
  });
});
