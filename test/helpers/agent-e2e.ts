/**
 * What the real-agent end-to-end suites (agent-claude-code, agent-codex, agent-goose) do the
 * same way through a running gateway: set a profile's model key, deliver GitHub's signed
 * "pull request opened" for acme/api#42, and read a task's events over its SSE stream.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { ADMIN_KEY } from './gateway.ts';
import { openSse } from './sse.ts';
import { githubHeaders } from './webhooks.ts';

// biome-ignore lint/suspicious/noExplicitAny: event data is read loosely by the suites
type Json = Record<string, any>;

const auth = { authorization: `Bearer ${ADMIN_KEY}` };

/** PUT /profiles/:name/secrets/:secret: stored encrypted, given to that profile's agents only. */
export async function setProfileSecret(
  url: string,
  profile: string,
  name: string,
  value: string,
): Promise<void> {
  const res = await fetch(`${url}/api/v1/profiles/${profile}/secrets/${name}`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ value }),
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

/** GitHub's `pull_request` opened for acme/api#42, signed with `secret`: the delivery's id. */
export async function sendPullRequestOpened(url: string, secret: string): Promise<string> {
  const body = JSON.stringify({
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
  });
  const hook = await fetch(`${url}/hooks/github/events`, {
    method: 'POST',
    headers: githubHeaders(secret, body, randomUUID(), 'pull_request'),
    body,
  });
  expect(hook.status).toBe(202);
  return ((await hook.json()) as { id: string }).id;
}

/** Every event of an ended task, from its SSE stream (which closes after the last). */
export async function taskEvents(
  url: string,
  taskId: string,
): Promise<Array<{ type: string; data: Json }>> {
  const stream = await openSse(`${url}/api/v1/tasks/${taskId}/events`, auth);
  expect(stream.contentType).toContain('text/event-stream');
  const seen: Array<{ type: string; data: Json }> = [];
  for await (const event of stream.events)
    seen.push({ type: event.event ?? '', data: (JSON.parse(event.data) as Json).data });
  return seen;
}
