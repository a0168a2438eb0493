import type * as z from 'zod';
import { appendAudit } from '../audit/store.ts';
import { SwitchboardError } from '../errors.ts';
import { buildBundle, SWITCHBOARD_SERVER } from '../runners/bundle.ts';
import { BUNDLE_FILES, type ConfigFormat, renderConfig } from '../runners/files.ts';
import type { Actor, TaskDeps } from '../tasks/external.ts';
import { getQueueTask } from '../tasks/queue.ts';
import { scopeCoversIntegration, scopeFor } from '../tokens/scope.ts';
import type { ConfigAnswer } from './schemas.ts';
import { currentPolicy } from './task-create.ts';

/**
 * GET /api/v1/tasks/:id/config: one agent config file for a running task, as `switchboard
 * mcp-config` prints it. Tokens are shown once and only their ids are stored, so this mints a
 * fresh set for the task's scope (one for /mcp, one per covered integration, one for the
 * built-in switchboard server), records them like every grant, and audits the request. They
 * are the task's tokens: revoked with the others when it ends.
 */
export async function taskConfig(
  deps: TaskDeps,
  taskId: string,
  format: ConfigFormat,
  actor: Actor,
): Promise<z.output<typeof ConfigAnswer>> {
  const task = await getQueueTask(deps.sql, taskId);
  if (task.status !== 'running') {
    throw new SwitchboardError(
      'task_not_running',
      `task ${task.id} is ${task.status}: a config (with tokens) is only issued to a running task`,
      { status: 409 },
    );
  }
  const limits = currentPolicy(deps.registry).tokens;
  // As long as the task may run (its timeout), within the policy's maxTtl; an external task
  // has no timeout and gets the defaultTtl, as `token grant` does without --ttl.
  const ttlMs = Math.min(limits.maxTtlMs, task.timeoutMs ?? limits.defaultTtlMs);
  const base = deps.publicUrl();
  const names = deps.registry
    .list()
    .filter(
      (i) =>
        i.state !== 'refused' &&
        i.name !== SWITCHBOARD_SERVER &&
        scopeCoversIntegration(task.scope, i.name),
    )
    .map((i) => i.name);
  // Not in one transaction: TokenService.mint reloads its signing keys through the pool once
  // they are 60 s old, and on the embedded database (one connection) a pool query inside a
  // transaction waits for that transaction forever. Each token row commits on its own; an
  // unused one is revoked with the task's others.
  const mint = async (audience: string, scope: string[]) =>
    deps.tokens.mint({ taskId: task.id, sessionId: task.sessionId, scope, audience, ttlMs });
  const aggregate = await mint(`${base}/mcp`, task.scope);
  const integrations = [];
  for (const name of names) {
    const url = `${base}/mcp/${name}`;
    integrations.push({ name, url, token: (await mint(url, scopeFor(task.scope, name))).token });
  }
  const builtIn = `${base}/mcp/${SWITCHBOARD_SERVER}`;
  const switchboard = await mint(builtIn, [`${SWITCHBOARD_SERVER}:*`]);
  const bundle = buildBundle({
    publicUrl: base,
    taskId: task.id,
    // The bundle names a session in SWITCHBOARD_SESSION_ID; an external task may have none.
    sessionId: task.sessionId ?? 'none',
    token: aggregate.token,
    integrations,
    switchboardServer: { url: builtIn, token: switchboard.token },
  });
  await appendAudit(deps.sql, {
    ...actor,
    action: 'tasks.config',
    target: task.id,
    details: { format, integrations: names, tokens: integrations.length + 2, ttlMs },
  });
  return {
    taskId: task.id,
    format,
    path: BUNDLE_FILES[format].path,
    content: renderConfig(bundle, format),
    env: bundle.env,
    expiresAt: aggregate.expiresAt.toISOString(),
  };
}
