/**
 * An integration's handler is third-party code, and the profile of a task decides which tools its
 * agent's token may cover. A handler that could name any profile (`execution.profile`) would pick
 * the operator's widest one and hand its agent every other integration's tools. It may name only
 * the profiles the policy gives that integration: `integrations.<name>.profile` and `.profiles`.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';
import { githubHeaders } from '../helpers/webhooks.ts';

const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/webhooks');
const GITHUB_SECRET = 'test-github-secret';

const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-trigger-profiles-'));
const POLICY = path.join(DIR, 'policy.yaml');
// Runners that never start (an unknown placeholder): the tasks stay pending for the assertions.
fs.writeFileSync(
  POLICY,
  `apiVersion: switchboard/policy/v1
integrations:
  hooks:
    enabled: true
    grants: [webhooks, sessions.write]
    webhooks: { unsigned: true }
    profile: held
    profiles: [second]
    settings:
      STANDARD_SECRET: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
      GITHUB_SECRET: ${GITHUB_SECRET}
      SLACK_SECRET: test-slack-secret
profiles:
  held:
    runner: { driver: process, command: "true", args: ["{held_for_the_tests}"] }
    tools: ["hooks:*"]
  second:
    runner: { driver: process, command: "true", args: ["{held_for_the_tests}"] }
    tools: ["hooks:*"]
  admin:
    runner: { driver: process, command: "true", args: ["{held_for_the_tests}"] }
    tools: ["*:*"]
`,
);
afterAll(() => fs.rmSync(DIR, { recursive: true, force: true }));

describe('a trigger naming a profile', () => {
  const gw = useTestGateway({ INTEGRATION_DIRS: FIXTURES, SWITCHBOARD_POLICY: POLICY });

  /** Sends one trigger that starts a task with `profile` (or none); the delivery's final row. */
  const deliver = async (
    key: string,
    profile?: string,
    dispatch: Record<string, unknown> = { type: 'none' },
  ) => {
    const body = JSON.stringify({
      triggers: [
        {
          session: { key, dispatch },
          message: 'go',
          run: true,
          ...(profile !== undefined && { execution: { profile } }),
        },
      ],
    });
    const res = await fetch(`${gw().url}/hooks/hooks/github`, {
      method: 'POST',
      headers: githubHeaders(GITHUB_SECRET, body, randomUUID()),
      body,
    });
    const answer = (await res.json()) as { deliveryId: string };
    expect({ status: res.status, answer }).toMatchObject({ status: 202, answer: {} });
    const { deliveryId } = answer;
    let row: { status: string; error: string | null } | undefined;
    await expect
      .poll(
        async () => {
          [row] = await gw().sql<{ status: string; error: string | null }[]>`
            select status, error from webhook_deliveries
             where integration = 'hooks' and delivery_id = ${deliveryId}`;
          return row?.status;
        },
        { timeout: 20_000 },
      )
      .toMatch(/^(done|failed)$/);
    return row!;
  };

  const profilesOfTasksIn = async (key: string) =>
    (
      await gw().sql<{ profile: string }[]>`
        select t.profile from tasks t join sessions s on s.id = t.session_id
         where s.key = ${key} order by t.seq`
    ).map((r) => r.profile);

  it('the operator’s widest profile is refused: the delivery fails and no task exists', async () => {
    const key = `hooks:escalate-${randomUUID()}`;
    const row = await deliver(key, 'admin');
    expect(row.status).toBe('failed');
    expect(row.error).toContain('triggers[0].execution.profile "admin" is not a profile');
    expect(row.error).toContain('held, second');
    expect(await profilesOfTasksIn(key)).toEqual([]);
  });

  it('the integration’s own profile and the ones listed for it run; none named takes its default', async () => {
    const key = `hooks:allowed-${randomUUID()}`;
    for (const profile of ['second', 'held', undefined]) {
      const row = await deliver(key, profile);
      expect(row).toEqual({ status: 'done', error: null });
    }
    expect(await profilesOfTasksIn(key)).toEqual(['second', 'held', 'held']);
  });

  // Issue 14: the task an `internal` dispatch starts names its profile in the target's config;
  // the trigger's dispatch was checked for its session key only, so the handler got the
  // operator's widest profile for that task although execution.profile refuses it.
  it('an internal dispatch target that starts a task takes only a profile the policy gives it', async () => {
    const internal = (profile: string) => ({
      type: 'internal',
      config: { session: `hooks:next-${randomUUID()}`, run: true, profile },
    });
    const key = `hooks:escalate-internal-${randomUUID()}`;
    const row = await deliver(key, undefined, internal('admin'));
    expect(row.status).toBe('failed');
    expect(row.error).toContain(
      'triggers[0].session.dispatch.config.profile "admin" is not a profile',
    );
    expect(await profilesOfTasksIn(key)).toEqual([]);
    const allowed = `hooks:internal-allowed-${randomUUID()}`;
    expect(await deliver(allowed, undefined, internal('second'))).toEqual({
      status: 'done',
      error: null,
    });
    expect(await profilesOfTasksIn(allowed)).toEqual(['held']);
  });
});
