import type { Profile } from '@switchboard/policy';
import type * as z from 'zod';
import type { AuditActor } from '../audit/store.ts';
import { appendAudit } from '../audit/store.ts';
import { SwitchboardError } from '../errors.ts';
import { buildBundle } from '../runners/bundle.ts';
import { BUNDLE_FILES, type ConfigFormat, renderConfig } from '../runners/files.ts';
import type { TaskDeps } from '../tasks/external.ts';
import { bundleInput, grantTask, requirePolicy, taskDeadline } from '../tasks/grant.ts';
import { getQueueTask } from '../tasks/queue.ts';
import type { ConfigAnswer } from './schemas.ts';

/**
 * POST /api/v1/tasks/:id/config: one agent config file for a running task, as `switchboard
 * mcp-config` prints it. Tokens are shown once and only their ids are stored, so this mints a
 * fresh set (grant.ts: the task's scope within its profile's tools; one token for /mcp, one per
 * covered integration, one for the built-in switchboard server), records them like every
 * grant, and audits the request. They are the task's tokens: revoked with the others when it
 * ends, and they expire when the task's time is up (its deadline, within the policy's maxTtl),
 * not before. A POST because it creates credentials: a GET is answered 405.
 */
export async function taskConfig(
  deps: TaskDeps,
  taskId: string,
  format: ConfigFormat,
  actor: AuditActor,
): Promise<z.output<typeof ConfigAnswer>> {
  const task = await getQueueTask(deps.sql, taskId);
  if (task.status !== 'running') {
    throw new SwitchboardError(
      'task_not_running',
      `task ${task.id} is ${task.status}: a config (with tokens) is only issued to a running task`,
    );
  }
  const policy = requirePolicy(deps.registry);
  // An external task has no profile (an operator key granted its scope); a queued one is held
  // to its profile's tools, whatever scope it was stored with.
  let profile: Profile | null = null;
  if (!task.external) {
    const found = task.profile === null ? undefined : policy.profiles[task.profile];
    if (!found) {
      throw new SwitchboardError(
        'profile_missing',
        `task ${task.id} runs with profile ${task.profile}, which the policy no longer defines: no tokens are issued for it`,
      );
    }
    profile = found;
  }
  const deadline = taskDeadline(task, profile, policy);
  const ttlMs = deadline.getTime() - Date.now();
  if (ttlMs < 1_000) {
    throw new SwitchboardError(
      'task_expired',
      `task ${task.id}'s time was up at ${deadline.toISOString()}: no more tokens are issued for it`,
    );
  }
  const grant = await grantTask(deps, {
    taskId: task.id,
    sessionId: task.sessionId,
    scope: task.scope,
    profileTools: profile ? profile.tools : null,
    ttlMs,
    builtin: true,
  });
  const bundle = buildBundle(bundleInput(grant, task, deps.publicUrl()));
  const names = grant.integrations.map((i) => i.name);
  await appendAudit(deps.sql, {
    ...actor,
    action: 'tasks.config',
    target: task.id,
    details: { format, integrations: names, tokens: grant.tokenIds.length, ttlMs: grant.ttlMs },
  });
  return {
    taskId: task.id,
    format,
    path: BUNDLE_FILES[format].path,
    content: renderConfig(bundle, format),
    env: bundle.env,
    expiresAt: grant.expiresAt.toISOString(),
  };
}
