// The dependency rule, checked by `npm run check:deps` (in .ci/run after the typecheck).
// The allowed direction is written once, as two ordered lists below (top to bottom): a module
// may import its own layer and the layers under it, never one above. The rules are made from the
// lists, plus "no import cycles" everywhere. A new folder or top-level file of gateway/src must be
// placed in GATEWAY_LAYERS before it may import anything.
//
// Parsed by swc (@swc/core): dependency-cruiser reads TypeScript through the `typescript`
// package's JS API, which TypeScript 7 no longer has. swc sees `import type` too, so a type-only
// import counts as an import here, as it does for a reader.

/** The npm workspaces, top to bottom: the sdk knows no other, no server knows the gateway. */
const PACKAGES = ['gateway', 'servers', 'policy', 'sdk'];

/**
 * gateway/src, top to bottom: folders by name, top-level files by file name. Each inner list is
 * one layer, whose members may import each other (without cycles).
 */
const GATEWAY_LAYERS = [
  ['cli'],
  ['main.ts'],
  ['gateway.ts', 'shutdown.ts'],
  // The express app: it mounts the API, the webhooks and the MCP routes.
  ['http'],
  // The API, the operator console (its sign-in and files; it calls the API) and the pruning job.
  ['api', 'console', 'retention'],
  ['webhooks', 'schedules', 'mcp'],
  // Guardrails on tool calls (argument rules, budgets, approvals): mcp/tools.ts runs them.
  ['guards'],
  // Approval requests of held tool calls: the guard, the API and the outbox's announcement.
  ['approvals'],
  // The trace of one event (issue 17): reads deliveries, tasks, events and the outbox; the API serves it.
  ['trace'],
  // The webhook_deliveries queue: webhook requests and schedule fires, through the handler to tasks.
  ['deliveries'],
  // The outbox: a task's result to its dispatcher (kind dispatch) and task events to
  // subscriptions (kind event). Its internal dispatcher enqueues tasks (outbox/internal.ts);
  // tasks/ imports nothing of outbox/ (tasks/sql/outbox-row.ts writes the row).
  ['outbox'],
  ['tasks', 'agent'],
  ['runners'],
  ['events'],
  ['integrations'],
  // Issue 21: the egress proxy (integrations reach the network only through it) and the unix-socket
  // bridges isolated programs reach the gateway's API by; integrations/ launches with them.
  ['egress'],
  // Issue 18: key-value storage and documents, each a store on the database the API, the MCP
  // task tools and the integrations' launch use.
  // Issue 19: MCP tasks (the tasks extension's durable tools/call rows), their SQL and wire:
  // mcp/ runs them, the retention job prunes them.
  ['kv', 'documents', 'mcp-tasks'],
  ['tokens', 'keys', 'settings'],
  ['audit', 'sessions', 'secrets', 'config.ts', 'process-errors.ts', 'production-mode.ts'],
  // The one leased-queue worker loop that deliveries, tasks and the outbox run on.
  ['queue'],
  // The database (and its notification bus) and the process utility (spawn, signal, lines).
  ['db', 'containment'],
  // OpenTelemetry: the SDK's start (tracing.ts) and the span helpers every layer above uses.
  ['telemetry'],
  ['log.ts', 'validate.ts'],
  [
    'errors.ts',
    'error-codes.ts',
    'version.ts',
    'redact.ts',
    'log-pretty.ts',
    'lifecycle.ts',
    'rate-limit.ts',
    'throttle.ts',
    'group-commit.ts',
    'heap-growth.ts',
  ],
];

/**
 * Imports that break the rule today and are being removed: each is let through by name (from the
 * files of `from`, in the layer holding `layer`, to the files of `to`), and only it. Delete an
 * entry with the change that removes its import.
 */
const KNOWN_VIOLATIONS = [];

const literal = (text) => text.replace(/[.]/g, '[.]');
const gatewayPath = (name) =>
  name.endsWith('.ts') ? `^gateway/src/${literal(name)}$` : `^gateway/src/${name}/`;
const packagePath = (name) => `^${name}/`;

/** One rule per layer: nothing in it imports a layer above it (known violations aside). */
function layerRules(prefix, list, pathOf) {
  const layers = list.map((layer) => [layer].flat());
  const rules = [];
  layers.forEach((layer, index) => {
    if (index === 0) return;
    const from = layer.map(pathOf);
    const above = layers.slice(0, index).flat();
    const to = above.map(pathOf);
    const comment =
      `${layer.join(', ')} may not import ${above.join(', ')}: imports point down the layers ` +
      `(${prefix} in .dependency-cruiser.cjs, top to bottom). Move the shared piece down instead.`;
    const name = `${prefix}: ${layer.join(', ')} import upward`;
    const known = KNOWN_VIOLATIONS.filter((k) => layer.includes(k.layer));
    rules.push({
      name,
      comment,
      severity: 'error',
      from: { path: from, pathNot: known.map((k) => k.from) },
      to: { path: to },
    });
    for (const k of known) {
      rules.push({
        name,
        comment: `${comment} (known: ${k.why})`,
        severity: 'error',
        from: { path: k.from },
        to: { path: to, pathNot: k.to },
      });
    }
  });
  return rules;
}

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Modules that import each other in a loop: move what both need into a lower module.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...layerRules('PACKAGES', PACKAGES, packagePath),
    ...layerRules('GATEWAY_LAYERS', GATEWAY_LAYERS, gatewayPath),
    {
      name: 'GATEWAY_LAYERS: not placed',
      comment:
        'This module of gateway/src is in no layer: add its folder (or top-level file) to ' +
        'GATEWAY_LAYERS in .dependency-cruiser.cjs where it belongs.',
      severity: 'error',
      from: { path: '^gateway/src/', pathNot: GATEWAY_LAYERS.flat().map(gatewayPath) },
      to: {},
    },
    {
      name: 'GATEWAY_LAYERS: imports a module not placed',
      comment:
        'The imported module of gateway/src is in no layer: add its folder (or top-level file) ' +
        'to GATEWAY_LAYERS in .dependency-cruiser.cjs where it belongs.',
      severity: 'error',
      from: { path: '^gateway/src/' },
      to: { path: '^gateway/src/', pathNot: GATEWAY_LAYERS.flat().map(gatewayPath) },
    },
  ],
  options: {
    parser: 'swc',
    includeOnly: `^(${PACKAGES.join('|')})/`,
    // dist/: the build's output (npm run build), checked through its sources.
    exclude: { path: '(^|/)(node_modules|dist)/' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      // switchboard-source: a workspace package's sources, as the tests and tsc see them.
      conditionNames: ['switchboard-source', 'import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js'],
    },
  },
};
