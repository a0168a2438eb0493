import { hookEventTypes, type Manifest } from '@switchboard/sdk';
import type { Pool } from '../db/connect.ts';
import type { Logger } from '../log.ts';
import { deleteEventHooksExcept, replaceEventHooks } from './event-hooks-store.ts';
import type { Integration, IntegrationRegistry } from './registry.ts';

/**
 * Lifecycle hooks (manifest `events:`, issue 18): the registry's view of them kept in the
 * event_hooks table, which events/store.ts fanOut joins when it writes a task event. An
 * integration's hooks are written when it becomes ready (its policy granted `events`, and
 * `events.all` for a hook with `sessions: all`: decide() refuses a manifest that asks for a
 * capability the policy does not grant) and deleted when it is refused (disabled, a grant
 * withdrawn, …) or removed, so it gets no new rows. Starting, failed or stopped leave them: a
 * restart or a gateway shutting down must not drop the hooks other replicas deliver; rows
 * written meanwhile wait in the outbox and are retried (outbox/hooks.ts).
 */

/** The rows an integration's manifest asks for. */
export function hooksOf(manifest: Manifest) {
  return manifest.events.map((hook) => ({
    tool: hook.tool,
    types: hookEventTypes(hook.types),
    allSessions: hook.sessions === 'all',
  }));
}

/** What the table should hold for this integration now; undefined: leave it as it is. */
function wanted(item: Integration | undefined) {
  if (!item || item.state === 'refused') return [];
  if (item.state === 'ready' && item.manifest) return hooksOf(item.manifest);
  return undefined;
}

export interface EventHookSync {
  /** Resolves once every change seen so far is written (tests; shutdown). */
  idle(): Promise<void>;
  /** After loadAll: hooks of integrations no folder declares any more. */
  prune(): Promise<void>;
  stop(): void;
}

/** Follows the registry's changes, one write at a time (a change's order is its writes' order). */
export function followEventHooks(
  registry: IntegrationRegistry,
  sql: Pool,
  log: Logger,
): EventHookSync {
  let chain: Promise<void> = Promise.resolve();
  const enqueue = (work: () => Promise<unknown>, what: Record<string, unknown>) => {
    chain = chain.then(work).then(
      () => undefined,
      (error: unknown) => log.warn({ err: error, ...what }, 'event hooks: could not update'),
    );
  };
  const stop = registry.onChange((name) => {
    enqueue(
      async () => {
        // Read when the write runs, not when the change fired: the latest state wins.
        const hooks = wanted(registry.get(name));
        if (hooks !== undefined) await sql.begin((tx) => replaceEventHooks(tx, name, hooks));
      },
      { integration: name },
    );
  });
  return {
    idle: () => chain,
    prune: async () => {
      enqueue(async () => {
        const removed = await deleteEventHooksExcept(
          sql,
          registry.list().map((i) => i.name),
        );
        if (removed > 0) log.info({ removed }, 'event hooks of removed integrations deleted');
      }, {});
      await chain;
    },
    stop: () => void stop(),
  };
}
