import { z } from 'zod';
import {
  args,
  command,
  cron,
  HTTP_URL_EXPECTED,
  hostPort,
  integrationName,
  isHttpUrl,
  isNotObject,
  localName,
  relativePath,
  settingKey,
  strictObject,
  TOOL_NAME,
  text,
  toolName,
} from './fields.ts';
import { PANEL_VIEWS, panelRefreshMs } from './panels.ts';
import { placeholderProblem, placeholdersOf, templateCanBe } from './url-template.ts';

/**
 * The sidecar manifest, `servers/<name>/switchboard.yaml` (ARCHITECTURE §4): what an MCP
 * server offers the gateway besides its tools. Every object is strict, because a misspelt key
 * (`webhook:` for `webhooks:`) that is silently ignored is a feature that silently never runs.
 * This is each section and field checked alone; the rules across fields are manifest-rules.ts,
 * and manifest.ts joins the two.
 */

export const MANIFEST_API_VERSION = 'switchboard/v1';
export const MANIFEST_FILE = 'switchboard.yaml';

export const CAPABILITIES = [
  'webhooks',
  'dispatch',
  'schedules',
  'processes',
  'sessions.write',
  'http.outbound',
  // Issue 18: lifecycle hooks on the integration's own sessions (manifest `events:`), and on
  // every session; key-value storage; documents (ingest and search).
  'events',
  'events.all',
  'storage.kv',
  'documents',
] as const;
export const capabilitySchema = z.enum(CAPABILITIES);
export type Capability = z.output<typeof capabilitySchema>;

export const SIGNATURE_SCHEMES = ['standard', 'github', 'slack', 'none'] as const;

/** Values a setting's `auto` may take: what the gateway fills in when nothing else sets it. */
export const SETTING_AUTO_VALUES = ['port'] as const;
export type SignatureScheme = (typeof SIGNATURE_SCHEMES)[number];

/** Dispatch types the gateway implements itself; an integration cannot take them over. */
export const BUILT_IN_DISPATCH_TYPES = ['webhook', 'internal', 'none'] as const;

/** 25 MiB: above GitHub's own 25 MB payload cap, so no real delivery is refused. */
export const MAX_WEBHOOK_BODY_BYTES = 25 * 1024 * 1024;

/** 30 s per upstream MCP request unless the manifest says otherwise. */
export const DEFAULT_TIMEOUT_MS = 30_000;

// semver.org's recommended expression (2.0.0), anchored.
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

const instances = z
  .enum(['shared', 'session', 'task'])
  .default('shared')
  .describe(
    'shared: one process for everyone; session: one per session; task: one per task (stdio)',
  );

const timeoutMs = z
  .int({ error: 'expected a whole number of milliseconds ≥ 1' })
  .min(1, 'expected a whole number of milliseconds ≥ 1')
  .default(DEFAULT_TIMEOUT_MS)
  .describe('upper bound of one MCP request to this server, in milliseconds');

const stdioServer = strictObject({
  transport: z.literal('stdio'),
  command: command.describe('program to start: a name on PATH or a path in the folder'),
  args: args.default([]),
  cwd: relativePath.optional().describe('working directory, relative to the folder'),
  instances,
  timeoutMs,
});

/** An http(s) URL that may take settings: `http://127.0.0.1:${CHAT_PORT}/mcp` (url-template.ts). */
const serverUrl = z
  .string({ error: 'expected an http:// or https:// URL, e.g. http://127.0.0.1:7001/mcp' })
  .superRefine((value, ctx) => {
    const problem = placeholderProblem(value);
    if (problem) {
      ctx.addIssue({ code: 'custom', message: problem });
    } else if (placeholdersOf(value).length === 0 && !isHttpUrl(value)) {
      ctx.addIssue({ code: 'custom', message: `expected ${HTTP_URL_EXPECTED}` });
    } else if (!templateCanBe(value, isHttpUrl)) {
      ctx.addIssue({
        code: 'custom',
        message: `expected ${HTTP_URL_EXPECTED}, with settings as \${KEY} (e.g. http://127.0.0.1:\${PORT}/mcp)`,
      });
    }
  });

const httpServer = strictObject({
  transport: z.literal('http'),
  url: serverUrl.describe(
    `Streamable HTTP endpoint of the MCP server; \${KEY} is replaced by the value of setting KEY`,
  ),
  instances,
  timeoutMs,
});

const server = z.discriminatedUnion('transport', [stdioServer, httpServer], {
  error: (issue) =>
    isNotObject(issue.input)
      ? 'expected a mapping with transport: stdio (and command) or transport: http (and url)'
      : undefined,
});

const setting = strictObject({
  key: settingKey,
  secret: z
    .boolean({ error: 'expected true or false' })
    .default(false)
    .describe('stored encrypted, never logged'),
  required: z
    .boolean({ error: 'expected true or false' })
    .default(false)
    .describe('the integration is refused until it resolves to a value'),
  description: text('a description').optional(),
  default: z
    .string({ error: 'expected a string (quote numbers and booleans, e.g. "8080")' })
    .optional()
    .describe('used when neither the database nor the environment sets it'),
  auto: z
    .enum(SETTING_AUTO_VALUES)
    .optional()
    .describe(
      'port: when nothing else sets it, the gateway picks a free TCP port on 127.0.0.1 each time it starts the integration',
    ),
});

const webhook = strictObject({
  name: localName.describe('mounted at /hooks/<integration>/<name>'),
  verify: strictObject({
    scheme: z.enum(SIGNATURE_SCHEMES),
    secret: settingKey.optional().describe('key of the setting holding the signing secret'),
  }),
  handler: toolName.describe('hidden MCP tool that turns a delivery into triggers'),
  mode: z
    .enum(['async', 'sync'])
    .default('async')
    .describe('async: acknowledge 202 first; sync: the handler answers the HTTP call'),
  maxBodyBytes: z
    .int({ error: `expected a whole number of bytes from 1 to ${MAX_WEBHOOK_BODY_BYTES} (25 MiB)` })
    .min(1, `expected a whole number of bytes from 1 to ${MAX_WEBHOOK_BODY_BYTES} (25 MiB)`)
    .max(
      MAX_WEBHOOK_BODY_BYTES,
      `expected a whole number of bytes from 1 to ${MAX_WEBHOOK_BODY_BYTES} (25 MiB)`,
    )
    .optional(),
});

const dispatcher = strictObject({
  type: localName
    .refine(
      (type) => !(BUILT_IN_DISPATCH_TYPES as readonly string[]).includes(type),
      `expected a dispatch type other than the built-in ${BUILT_IN_DISPATCH_TYPES.join(', ')}`,
    )
    .describe('tasks whose session has dispatch.type equal to this are delivered by handler'),
  handler: toolName,
  /** Optional: a hidden tool that tells the session a held call waits for approval. */
  approvals: toolName
    .describe('called with each approval request of a task in such a session (issue 15)')
    .optional(),
});

const schedule = strictObject({
  name: localName,
  cron: cron.describe('5 fields, or 6 with seconds first; UTC'),
  handler: toolName,
});

const backgroundProcess = strictObject({
  name: localName,
  command,
  args: args.default([]),
  requires: z
    .array(settingKey, { error: 'expected a list of setting keys' })
    .default([])
    .describe(
      'settings the process needs: it starts once all resolve and receives exactly these in its environment',
    ),
});

/** A tool of this integration, by its own name: `other:tool` or `other__tool` cannot be one. */
const panelTool = z
  .string({ error: 'expected the name of a hidden tool of this integration' })
  .superRefine((value, ctx) => {
    if (value.includes(':') || value.includes('__')) {
      ctx.addIssue({
        code: 'custom',
        message:
          "expected the name of a hidden tool of this integration, without an integration prefix (a panel cannot call another integration's tool)",
      });
    } else if (!TOOL_NAME.test(value)) {
      ctx.addIssue({
        code: 'custom',
        message: 'expected an MCP tool name: 1 to 128 of A-Z a-z 0-9 _ - .',
      });
    }
  });

const panel = strictObject({
  name: localName.describe('GET /api/v1/integrations/<integration>/panels/<name>'),
  title: z
    .string({ error: 'expected a title of 1 to 80 characters' })
    .min(1, 'expected a title of 1 to 80 characters')
    .max(80, 'expected a title of 1 to 80 characters')
    .describe('shown above the panel in the console'),
  tool: panelTool.describe(
    'hidden tool of this integration answering the panel data as structuredContent (sdk panel data schemas)',
  ),
  view: z.enum(PANEL_VIEWS).describe('table, kv (key-value) or timeseries'),
  refresh: z
    .string({ error: 'expected a duration from 10s to 24h, such as 30s, 5m or 1h' })
    .refine(
      (value) => panelRefreshMs(value) !== undefined,
      'expected a duration from 10s to 24h, such as 30s, 5m or 1h',
    )
    .optional()
    .describe('how often the console reloads it (absent: only when the page opens)'),
});

/**
 * The task events a lifecycle hook may subscribe to (manifest `events:`): a task's start and
 * end, a few per attempt, so a hook's outbox rows are bounded by its tasks' attempts. Not
 * task:tool_use and the like (one per tool call: a flood), nor task:created (written in the
 * statement that creates the task and its session, before either can be matched to an owner).
 * `task:*` stands for all of these.
 */
export const HOOK_EVENT_TYPES = [
  'task:started',
  'task:running',
  'task:requeued',
  'task:done',
  'task:failed',
  'task:cancelled',
  'task:complete',
] as const;
export const HOOK_EVENT_WILDCARD = 'task:*';

/** A hook's `types` with `task:*` expanded: the exact types the gateway matches. */
export function hookEventTypes(types: readonly string[]): string[] {
  return types.includes(HOOK_EVENT_WILDCARD)
    ? [...HOOK_EVENT_TYPES]
    : HOOK_EVENT_TYPES.filter((t) => types.includes(t));
}

/** Entries of `events:`: each is one hidden tool; 10 are plenty for start, end and a spare. */
export const MAX_EVENT_HOOKS = 10;

const eventHook = strictObject({
  tool: toolName.describe('hidden tool of this integration the gateway calls with each event'),
  types: z
    .array(z.enum([...HOOK_EVENT_TYPES, HOOK_EVENT_WILDCARD]), {
      error: `expected a list of task event types: ${[...HOOK_EVENT_TYPES, HOOK_EVENT_WILDCARD].join(', ')}`,
    })
    .min(1, 'expected at least one event type')
    .max(HOOK_EVENT_TYPES.length + 1, `expected at most ${HOOK_EVENT_TYPES.length + 1} event types`)
    .describe('task events to receive; task:* is all of them'),
  sessions: z
    .enum(['own', 'all'])
    .default('own')
    .describe(
      'own: tasks of sessions whose key starts with "<integration>:" (capability events); all: every session (capability events.all)',
    ),
});

const tools = strictObject({
  hidden: z
    .array(toolName, { error: 'expected a list of tool names' })
    .default([])
    .describe('tools only the gateway may call; absent from agents’ tools/list'),
});

export const manifestObject = strictObject(
  {
    apiVersion: z.literal(MANIFEST_API_VERSION),
    name: integrationName
      // /mcp/switchboard and the `switchboard:*` scope are the gateway's built-in task tools.
      .refine(
        (name) => name !== 'switchboard',
        'expected a name other than "switchboard" (the gateway\'s built-in task tools)',
      )
      .describe('the namespace of its tools'),
    version: text('a semantic version such as 1.2.0', SEMVER),
    description: text('a one-line description of the integration'),
    server,
    settings: z.array(setting, { error: 'expected a list of settings' }).default([]),
    webhooks: z.array(webhook, { error: 'expected a list of webhooks' }).default([]),
    dispatchers: z.array(dispatcher, { error: 'expected a list of dispatchers' }).default([]),
    schedules: z.array(schedule, { error: 'expected a list of schedules' }).default([]),
    processes: z.array(backgroundProcess, { error: 'expected a list of processes' }).default([]),
    panels: z
      .array(panel, { error: 'expected a list of panels' })
      .max(20, 'expected at most 20 panels')
      .default([])
      .describe("read-only views on the integration's console page, each filled by a hidden tool"),
    events: z
      .array(eventHook, { error: 'expected a list of event hooks' })
      .max(MAX_EVENT_HOOKS, `expected at most ${MAX_EVENT_HOOKS} event hooks`)
      .default([])
      .describe('lifecycle hooks: task events delivered to a hidden tool through the outbox'),
    skills: relativePath
      .optional()
      .describe(
        'folder of *.md served to agents as MCP resources (skill://<name>-<file>/SKILL.md)',
      ),
    tools: tools.default({ hidden: [] }),
    capabilities: z
      .array(capabilitySchema, { error: 'expected a list of capabilities' })
      .default([]),
    outboundHosts: z
      .array(hostPort, { error: 'expected a list of host names' })
      .default([])
      .describe('hosts the server may call; needs capability http.outbound'),
  },
  `a manifest (a mapping starting with apiVersion: ${MANIFEST_API_VERSION})`,
);
