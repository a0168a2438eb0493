import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
 * Issue 17, the trace in the console: a task run by live-agent.mjs (one call of the fixture's
 * test_simple_text, then task_complete) opened from its page's Trace link, the tree with the
 * task, its attempt and the tool call with offsets and durations; a key without deliveries:read
 * gets no link.
 */

// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; the API validates them
type Json = Record<string, any>;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-console-trace-test-'));

describe('console: trace', () => {
  const suite = useConsoleSuite({ SWITCHBOARD_POLICY: writeConsoleTasksPolicy() });

  it("opens a task's trace from its page: the task, its attempt and its tool call, timed", async () => {
    const { browser, url } = suite();
    const gate = path.join(tmp, 'gate');
    fs.writeFileSync(gate, 'go');
    const created = await adminApi<Json>(url, 'POST', '/tasks', {
      profile: 'live',
      prompt: JSON.stringify({ gate }),
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.task.id as string;
    // Until the run has ended and its tool call is recorded (the sink writes within 200 ms).
    const until = Date.now() + 60_000;
    for (;;) {
      const { body } = await adminApi<Json>(url, 'GET', `/trace/tasks/${id}`);
      const root = body.trace?.root;
      if (root?.status === 'complete' && root.children.some((c: Json) => c.kind === 'tool_call'))
        break;
      if (Date.now() > until) throw new Error(`not complete: ${JSON.stringify(body)}`);
      await new Promise((r) => setTimeout(r, 200));
    }

    const tab = await openConsole(browser, url);
    const { page } = tab;
    await signIn(page, ADMIN_KEY);
    await go(page, `/tasks/${id}`);
    await page.getByRole('link', { name: /^Trace: / }).click();
    await page.getByRole('heading', { name: `Trace of task ${id.slice(0, 8)}` }).waitFor();
    const tree = page.getByRole('list', { name: 'Trace' });
    const task = tree.locator('li[data-kind="task"]');
    await task.waitFor();
    expect(await task.locator('.trace-line').first().textContent()).toMatch(
      new RegExp(`^\\+0\\.000 s[\\d.]+ m?s+task ${id} \\(live\\)complete$`),
    );
    const call = tree.locator('li[data-kind="tool_call"]');
    expect(await call.count()).toBe(1);
    expect(await call.textContent()).toMatch(
      /^\+\d+\.\d{3} s\d+ mstool fixture\.test_simple_textok$/,
    );
    expect(await tree.locator('li[data-kind="event"]').first().textContent()).toMatch(
      /attempt 1 started on /,
    );
    // The task's line links back to its page.
    expect(await task.getByRole('link', { name: `task ${id} (live)` }).getAttribute('href')).toBe(
      `#/tasks/${id}`,
    );
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'trace');
    expect(tab.problems).toEqual([]);
    await tab.context.close();

    // Without deliveries:read: no link on the task page.
    const reader = await createKey(url, 'trace-reader', ['tasks:read']);
    const other = await openConsole(browser, url);
    await signIn(other.page, reader.key);
    await go(other.page, `/tasks/${id}`);
    await other.page.getByRole('heading', { name: `Task ${id.slice(0, 8)}` }).waitFor();
    expect(await other.page.getByRole('link', { name: /^Trace: / }).count()).toBe(0);
    await other.context.close();
  }, 120_000);
});
