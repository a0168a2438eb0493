import { Server, type ServerCapabilities } from '@modelcontextprotocol/server';
import type { Integration } from '../integrations/registry.ts';
import { TASKS_EXTENSION, taskSupportOf } from '../mcp-tasks/wire.ts';
import { TASKS_CAPABILITY_2025 } from '../mcp-tasks/wire-2025.ts';
import { scopeAllows } from '../tokens/scope.ts';
import type { Era } from './era-results.ts';
import { registerCompletion, registerPrompts } from './prompts.ts';
import { type ResourceDeps, registerResources } from './resources.ts';
import { registerSkills, SKILLS_CAPABILITY } from './skills.ts';
import { registerTools } from './tools.ts';
import { integrationWide, isAggregate, type View, visibleIntegrations } from './view.ts';

export const SERVER_INFO = { name: 'switchboard', version: '0.1.0' } as const;

/** What the visible integrations can do, each by its upstream's advertised capabilities. */
interface Offer {
  item: Integration;
  capabilities: ServerCapabilities;
}

/**
 * The MCP server for one request (REFERENCES §A2.3: an instance per request costs ~1% CPU and
 * holds its protocol era, so none is pooled); `era`: what upstream results may carry to the
 * agent (era-results.ts). It advertises only what the upstreams it fronts
 * can do: tools, resources (subscribe when one of them supports it), prompts, completions; the
 * last three only of integrations the grant covers whole (`<name>:*`, view.ts integrationWide);
 * the skills extension (skills.ts) when a visible integration has skills.
 * The tasks extension (SEP-2663) on 2026-07-28, the 2025-11-25 `capabilities.tasks` on the
 * 2025 era, when MCP tasks are on and a visible tool declares task support. Logging when an upstream logs. Client input
 * (elicitation, sampling, roots) is a capability of the client, passed through per request.
 * listChanged is always on: the gateway itself changes the lists (integrations come and go).
 */
export async function buildServer(deps: ResourceDeps, view: View, era: Era): Promise<Server> {
  const offers = await Promise.all(
    visibleIntegrations(deps.registry, view).map(async (item): Promise<Offer | undefined> => {
      try {
        return { item, capabilities: await deps.catalog.capabilities(item) };
      } catch (error) {
        deps.log.warn({ integration: item.name, err: error }, 'upstream capabilities unknown');
        return undefined;
      }
    }),
  );
  const available = offers.filter((o): o is Offer => o !== undefined);
  // Resources, prompts and completions only of integrations the grant covers whole (view.ts).
  const whole = available.filter((o) => integrationWide(view, o.item.name));
  const having = (
    key: 'tools' | 'resources' | 'prompts' | 'completions' | 'logging',
    from: Offer[] = available,
  ) => from.filter((o) => o.capabilities[key] !== undefined).map((o) => o.item);

  const withTools = having('tools');
  const withResources = having('resources', whole);
  const withPrompts = having('prompts', whole);
  const withCompletions = having('completions', whole);
  const capabilities: ServerCapabilities = {};
  // The aggregate always offers tools: integrations granted later announce themselves there.
  if (withTools.length > 0 || isAggregate(view)) capabilities.tools = { listChanged: true };
  // Skills (mcp/skills.ts) are resources the gateway serves itself, to any view covering the
  // integration (not only whole grants): how to use the tools the token may call.
  const withSkills = available
    .filter((o) => o.item.manifest?.skills !== undefined)
    .map((o) => o.item);
  if (withResources.length > 0 || withSkills.length > 0) {
    const subscribe = whole.some((o) => o.capabilities.resources?.subscribe === true);
    capabilities.resources = { listChanged: true, ...(subscribe && { subscribe: true }) };
  }
  // The skills extension (SEP-2640) over the same skills; when to declare it: skills.ts.
  if (withSkills.length > 0) capabilities.extensions = { ...SKILLS_CAPABILITY };
  // The tasks extension (SEP-2663, mcp/mcp-task-methods.ts): 2026-07-28 only, with a database,
  // when a visible integration has a tool that declares task support.
  const mcpTasks =
    era === 'modern' && deps.mcpTaskMethods && (await offersTaskTools(deps, view, withTools))
      ? deps.mcpTaskMethods
      : undefined;
  if (mcpTasks) capabilities.extensions = { ...capabilities.extensions, [TASKS_EXTENSION]: {} };
  // The 2025-11-25 `capabilities.tasks` (mcp/mcp-task-methods-2025.ts) by the same rule.
  const mcpTasks2025 =
    era === 'legacy' && deps.mcpTasks2025 && (await offersTaskTools(deps, view, withTools))
      ? deps.mcpTasks2025
      : undefined;
  if (mcpTasks2025) capabilities.tasks = structuredClone(TASKS_CAPABILITY_2025);
  if (withPrompts.length > 0) capabilities.prompts = { listChanged: true };
  if (withCompletions.length > 0) capabilities.completions = {};
  if (having('logging').length > 0) capabilities.logging = {};

  const server = new Server(SERVER_INFO, { capabilities });
  if (capabilities.tools) registerTools(server, deps, view, withTools, era);
  if (capabilities.resources) registerResources(server, deps, view, withResources, era, withSkills);
  if (withSkills.length > 0) registerSkills(server, withSkills, era, deps.pageSize);
  if (mcpTasks) mcpTasks(server, view);
  if (mcpTasks2025) mcpTasks2025.methods(server, view);
  if (capabilities.prompts) registerPrompts(server, deps, view, withPrompts, era);
  if (capabilities.completions) registerCompletion(server, deps, view, withCompletions, era);
  if (capabilities.logging) {
    // 2025 era: the level holds for the token's later calls (each is a request of its own). It
    // reaches only upstreams whose connection is the task's own (see mcp/forward.ts).
    server.setRequestHandler('logging/setLevel', async (request) => {
      // Stored before it is answered: the client's next call may reach another replica.
      await deps.clients.rememberLogLevel(view.claims, request.params.level);
      return {};
    });
  }
  return server;
}

/**
 * Whether any of `items` has a tool the view may call that declares task support (the catalog's,
 * cached): a token granted only sync tools is offered no tasks.
 */
async function offersTaskTools(
  deps: ResourceDeps,
  view: View,
  items: Integration[],
): Promise<boolean> {
  const found = await Promise.all(
    items.map((item) =>
      deps.catalog
        .tools(item)
        .then((published) =>
          published.tools.some(
            (t) =>
              taskSupportOf(t) !== 'forbidden' && scopeAllows(view.claims.scope, item.name, t.name),
          ),
        )
        .catch(() => false),
    ),
  );
  return found.includes(true);
}
