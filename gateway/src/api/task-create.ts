import { formatDuration, type Policy, type Profile, parseDuration } from '@switchboard/policy';
import * as z from 'zod';
import type { AuditActor } from '../audit/store.ts';
import { appendAudit } from '../audit/store.ts';
import type { Pool } from '../db/connect.ts';
import { notFound, SwitchboardError } from '../errors.ts';
import type { PublishTaskEvents } from '../events/task-events.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import { createOrGetSession, findSession, type SessionRow } from '../sessions/store.ts';
import { enqueueTask } from '../tasks/queue.ts';
import type { QueueTaskRow } from '../tasks/store.ts';
import { narrowScope } from '../tasks/task-scope.ts';
import type { CreateTaskBody } from './schemas.ts';

/**
 * Turning an API body into a queued task: the session (by id, or create-or-get by key), the
 * profile (it must exist in the current policy), the scope (within the profile's tools) and
 * the timeout (at most MAX_TIMEOUT_MS), then enqueueTask.
 */

/** A day: longer than any agent run we expect, short enough that a forgotten task ends. */
export const MAX_TIMEOUT_MS = 24 * 60 * 60 * 1000;

export interface EnqueueDeps {
  sql: Pool;
  registry: IntegrationRegistry;
  publish: PublishTaskEvents;
}

const invalid = (field: string, message: string) =>
  new SwitchboardError('invalid_request', `invalid task: ${field}: ${message}`, {
    details: { issues: [{ path: field, message }] },
  });

export function currentPolicy(registry: IntegrationRegistry): Policy {
  const policy = registry.currentPolicy();
  if (!policy) {
    throw new SwitchboardError('policy_invalid', 'the policy file is invalid: no task can run');
  }
  return policy;
}

/** The profile by name, or a 400 at `field` naming the profiles the policy defines. */
export function requireProfile(policy: Policy, name: string, field: string): Profile {
  const profile = policy.profiles[name];
  if (profile) return profile;
  const known = Object.keys(policy.profiles);
  throw invalid(
    field,
    `no profile ${JSON.stringify(name)} in the policy (${known.length > 0 ? `known: ${known.join(', ')}` : 'it defines none'})`,
  );
}

async function resolveSession(
  deps: EnqueueDeps,
  body: CreateTaskBody,
): Promise<SessionRow | undefined> {
  if (body.session === undefined) return undefined;
  if (z.uuid().safeParse(body.session).success) {
    const session = await findSession(deps.sql, body.session);
    if (!session) throw notFound(`no session ${body.session}`);
    return session;
  }
  const { session } = await createOrGetSession(deps.sql, {
    key: body.session,
    ...(body.profile ? { profile: body.profile } : {}),
    ...(body.dispatch ? { dispatch: body.dispatch } : {}),
  });
  return session;
}

export async function createQueuedTask(
  deps: EnqueueDeps,
  body: CreateTaskBody,
  actor: AuditActor,
  options: { messageId?: string } = {},
): Promise<{ task: QueueTaskRow; created: boolean }> {
  const policy = currentPolicy(deps.registry);
  // Check what needs no database first: a bad body creates no session.
  if (body.profile !== undefined) requireProfile(policy, body.profile, 'profile');
  let timeoutMs: number | undefined;
  if (body.timeout !== undefined) {
    timeoutMs = parseDuration(body.timeout);
    if (timeoutMs === undefined || timeoutMs <= 0) {
      throw invalid('timeout', `found ${JSON.stringify(body.timeout)}, expected a duration`);
    }
    if (timeoutMs > MAX_TIMEOUT_MS) {
      throw invalid(
        'timeout',
        `found ${body.timeout}, expected at most ${formatDuration(MAX_TIMEOUT_MS)}`,
      );
    }
  }
  const session = await resolveSession(deps, body);
  const profileName = body.profile ?? session?.profile ?? undefined;
  if (profileName === undefined) {
    const known = Object.keys(policy.profiles).join(', ') || 'none';
    throw invalid(
      'profile',
      `expected a profile (the task has no session with a default one; known: ${known})`,
    );
  }
  const profile = requireProfile(policy, profileName, body.profile ? 'profile' : 'session');
  // The one scope rule (tasks/task-scope.ts): a caller of the API asked for these patterns
  // explicitly, so one the profile does not grant is refused rather than cut (triggers cut).
  const scope = body.scope ?? profile.tools;
  const { outside } = narrowScope(scope, profile.tools);
  for (const [i, pattern] of scope.entries()) {
    if (outside.includes(pattern)) {
      throw invalid(
        `scope[${i}]`,
        `${JSON.stringify(pattern)} is outside the tools of profile ${profileName} (${profile.tools.join(', ') || 'none'})`,
      );
    }
  }
  const { task, created } = await enqueueTask(
    deps.sql,
    {
      prompt: body.prompt,
      ...(session ? { sessionId: session.id } : {}),
      ...(options.messageId ? { messageId: options.messageId } : {}),
      profile: profileName,
      scope,
      execution: body.execution ?? {},
      ...(body.dispatch ? { dispatch: body.dispatch } : {}),
      ...((timeoutMs ?? profile.timeoutMs) !== undefined
        ? { timeoutMs: timeoutMs ?? profile.timeoutMs }
        : {}),
      ...(body.idempotencyKey ? { idempotencyKey: body.idempotencyKey } : {}),
    },
    deps.publish,
  );
  // After the enqueue's own transaction (enqueueTask opens it and takes no outer one): a crash
  // between the two loses this row, never the task.
  if (created) {
    await appendAudit(deps.sql, {
      ...actor,
      action: 'tasks.create',
      target: task.id,
      details: { profile: profileName, scope, sessionId: task.sessionId },
    });
  }
  return { task, created };
}
