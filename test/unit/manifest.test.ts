import path from 'node:path';
import {
  cronProblem,
  formatManifestErrors,
  loadManifest,
  MANIFEST_API_VERSION,
  type ManifestError,
  parseManifest,
} from '@switchboard/sdk';
import { describe, expect, it } from 'vitest';
import { checkManifestSchema } from '../../scripts/manifest-schema.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/manifests');
const fileOf = (name: string) => path.join(FIXTURES, name, 'switchboard.yaml');

async function errorsOf(name: string): Promise<ManifestError[]> {
  const result = await loadManifest(path.join(FIXTURES, name));
  if (result.ok) throw new Error(`expected ${name} to be invalid`);
  expect(result.file).toBe(fileOf(name));
  return result.errors;
}

/** [fixture folder, path, message]: each broken manifest has exactly one error. */
const BROKEN: Array<[string, string, string]> = [
  [
    'unknown-key-root',
    'webhook',
    'found unknown key "webhook", expected one of apiVersion, name, version, description, server, settings, webhooks, dispatchers, schedules, processes, panels, events, skills, tools, capabilities, outboundHosts',
  ],
  [
    'unknown-key-nested',
    'webhooks[0].verify.algorithm',
    'found unknown key "algorithm", expected one of scheme, secret',
  ],
  ['wrong-api-version', 'apiVersion', 'found "switchboard/v2", expected "switchboard/v1"'],
  [
    'bad-name',
    'name',
    'found "GitHub", expected a name of 2 to 41 characters: a lowercase letter, then lowercase letters or digits, with single - between them (my-tool)',
  ],
  [
    'reserved-name',
    'name',
    'found "switchboard", expected a name other than "switchboard" (the gateway\'s built-in task tools)',
  ],
  ['bad-version', 'version', 'found 1.2, expected a semantic version such as 1.2.0'],
  ['bad-transport', 'server.transport', 'found "grpc", expected one of stdio, http'],
  [
    'missing-command',
    'server.command',
    'missing, expected a command: a program name such as node, or a path in the folder',
  ],
  [
    'bad-url',
    'server.url',
    'found "ftp://127.0.0.1/mcp", expected an http:// or https:// URL without credentials or #fragment, e.g. http://127.0.0.1:7001/mcp',
  ],
  [
    'bad-scheme',
    'webhooks[1].verify.scheme',
    'found "hmac", expected one of standard, github, slack, none',
  ],
  [
    'undeclared-secret',
    'webhooks[0].verify.secret',
    'found "GITHUB_WEBHOOK_SECRET", expected the key of a setting declared in settings (declared: GITHUB_TOKEN)',
  ],
  [
    'weak-signing-secret',
    'webhooks[0].verify.secret',
    'found "HOOK_SECRET", declared without secret: true and without required: true, expected a setting declared with secret: true and required: true',
  ],
  [
    'secret-default',
    'settings[0].default',
    "found a default value on a secret setting, expected no default for a secret: set it with the CLI or API, or in the gateway's environment",
  ],
  [
    'absolute-command',
    'server.command',
    'found "/usr/local/bin/my-server", expected a program name on PATH (node, python3) or a relative path in the folder (./bin/server), without surrounding spaces',
  ],
  [
    'undeclared-requires',
    'processes[0].requires[1]',
    'found "SLACK_TOKEN", expected the key of a setting declared in settings (declared: GITHUB_TOKEN)',
  ],
  [
    'handler-not-hidden',
    'schedules[0].handler',
    'found "on_schedule", expected a tool listed in tools.hidden, since only the gateway may call handlers (tools.hidden: on_webhook)',
  ],
  [
    'webhooks-without-capability',
    'capabilities',
    'found no "webhooks", expected "webhooks" because the manifest declares 1 webhook',
  ],
  [
    'duplicate-webhook-names',
    'webhooks[1].name',
    'found "events" again, expected a unique webhook name (webhooks[0].name is already "events")',
  ],
  [
    'bad-cron',
    'schedules[0].cron',
    'found "0 25 * * *", expected field 2 (hour) to be *, n, a-b, */n or a comma list of those, with n from 0 to 23',
  ],
  [
    'outbound-without-hosts',
    'outboundHosts',
    'found no hosts, expected at least one host because capabilities include "http.outbound"',
  ],
  [
    'yaml-syntax',
    '',
    'invalid YAML at line 9, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]',
  ],
  [
    'duplicate-yaml-key',
    'server.command',
    'found duplicate key "command" at line 8, column 3, expected each key at most once per mapping',
  ],
  [
    'flow-comma',
    'settings[0]["writes and admin"]',
    'found unknown key "writes and admin", expected one of key, secret, required, description, default, auto (inside { … } a comma ends a value: quote text that contains commas, e.g. description: "a, b")',
  ],
];

describe('manifest: valid files (ARCHITECTURE §4)', () => {
  it('loads the ARCHITECTURE example with every default applied', async () => {
    const result = await loadManifest(path.join(FIXTURES, 'full'));
    expect(result).toEqual({
      ok: true,
      file: fileOf('full'),
      manifest: {
        apiVersion: MANIFEST_API_VERSION,
        name: 'github',
        version: '1.2.0',
        description: 'GitHub pull requests and issues',
        server: {
          transport: 'stdio',
          command: 'node',
          args: ['dist/server.js'],
          instances: 'shared',
          timeoutMs: 30_000,
        },
        settings: [
          { key: 'GITHUB_TOKEN', secret: true, required: true, description: 'API token' },
          { key: 'GITHUB_WEBHOOK_SECRET', secret: true, required: true },
        ],
        webhooks: [
          {
            name: 'events',
            verify: { scheme: 'github', secret: 'GITHUB_WEBHOOK_SECRET' },
            handler: 'on_webhook',
            mode: 'async',
          },
        ],
        dispatchers: [{ type: 'github', handler: 'deliver' }],
        schedules: [{ name: 'nightly-triage', cron: '0 6 * * *', handler: 'on_schedule' }],
        processes: [
          {
            name: 'listener',
            command: 'node',
            args: ['dist/listener.js'],
            requires: ['GITHUB_TOKEN'],
          },
        ],
        panels: [],
        events: [],
        skills: 'skills/',
        tools: { hidden: ['on_webhook', 'deliver', 'on_schedule'] },
        capabilities: [
          'webhooks',
          'dispatch',
          'schedules',
          'processes',
          'sessions.write',
          'http.outbound',
        ],
        outboundHosts: ['api.github.com'],
      },
    });
  });

  it('fills in every optional section of a minimal http manifest', async () => {
    const result = await loadManifest(path.join(FIXTURES, 'minimal-http'));
    expect(result.ok && result.manifest).toEqual({
      apiVersion: 'switchboard/v1',
      name: 'tickets',
      version: '0.1.0-beta.1',
      description: 'A ticket system reached over Streamable HTTP',
      server: {
        transport: 'http',
        url: 'http://127.0.0.1:7001/mcp',
        instances: 'shared',
        timeoutMs: 30_000,
      },
      settings: [],
      webhooks: [],
      dispatchers: [],
      schedules: [],
      processes: [],
      panels: [],
      events: [],
      tools: { hidden: [] },
      capabilities: [],
      outboundHosts: [],
    });
  });
});

describe('manifest: each broken file names its file, the path and what was expected', () => {
  it.each(BROKEN)('%s', async (name, where, message) => {
    const errors = await errorsOf(name);
    expect(errors.map((e) => ({ file: e.file, path: e.path, message: e.message }))).toEqual([
      { file: fileOf(name), path: where, message },
    ]);
  });

  it('reports every bad path of one file, not just the first', async () => {
    const errors = await errorsOf('path-escape');
    expect(errors.map((e) => [e.path, e.message])).toEqual([
      [
        'server.cwd',
        'found "../shared", expected a path inside the integration folder (relative, without .. or a leading /)',
      ],
      [
        'skills',
        'found "/etc/skills", expected a path inside the integration folder (relative, without .. or a leading /)',
      ],
    ]);
  });

  it('names a missing file', async () => {
    const dir = path.join(FIXTURES, 'does-not-exist');
    const result = await loadManifest(dir);
    expect(result).toEqual({
      ok: false,
      file: path.join(dir, 'switchboard.yaml'),
      errors: [
        {
          file: path.join(dir, 'switchboard.yaml'),
          path: '',
          message:
            'found no such file, expected a manifest (a mapping starting with apiVersion: switchboard/v1)',
          found: 'no such file',
          expected: 'a manifest (a mapping starting with apiVersion: switchboard/v1)',
        },
      ],
    });
  });

  it('keeps found and expected apart for tools', async () => {
    const [error] = await errorsOf('bad-scheme');
    expect(error).toEqual({
      file: fileOf('bad-scheme'),
      path: 'webhooks[1].verify.scheme',
      message: 'found "hmac", expected one of standard, github, slack, none',
      found: '"hmac"',
      expected: 'one of standard, github, slack, none',
    });
  });

  it('formats one line per error: file: path: message', async () => {
    const errors = [...(await errorsOf('bad-scheme')), ...(await errorsOf('yaml-syntax'))];
    expect(formatManifestErrors(errors)).toBe(
      [
        `${fileOf('bad-scheme')}: webhooks[1].verify.scheme: found "hmac", expected one of standard, github, slack, none`,
        `${fileOf('yaml-syntax')}: invalid YAML at line 9, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]`,
      ].join('\n'),
    );
  });
});

const HEAD = `apiVersion: switchboard/v1
name: sample
version: 1.0.0
description: inline
`;
const STDIO = 'server: { transport: stdio, command: node }\n';

function inline(text: string): Array<[string, string]> {
  const result = parseManifest(text, 'inline.yaml');
  if (result.ok) return [];
  return result.errors.map((e) => [e.path, e.message]);
}

describe('manifest: inline cases', () => {
  it('says an empty file is empty and a non-mapping is not a manifest', () => {
    expect(inline('')).toEqual([
      [
        '',
        'found an empty file, expected a manifest (a mapping starting with apiVersion: switchboard/v1)',
      ],
    ]);
    expect(inline('- a\n')).toEqual([
      [
        '',
        'found a list, expected a manifest (a mapping starting with apiVersion: switchboard/v1)',
      ],
    ]);
  });

  it('lists every missing required field', () => {
    expect(inline('apiVersion: switchboard/v1\n')).toEqual([
      [
        'name',
        'missing, expected a name of 2 to 41 characters: a lowercase letter, then lowercase letters or digits, with single - between them (my-tool)',
      ],
      ['version', 'missing, expected a semantic version such as 1.2.0'],
      ['description', 'missing, expected a one-line description of the integration'],
      [
        'server',
        'missing, expected a mapping with transport: stdio (and command) or transport: http (and url)',
      ],
    ]);
  });

  it('takes a - in a name only between letters or digits, so its environment form is unambiguous', () => {
    const named = (name: string) =>
      inline(`${HEAD.replace('name: sample', `name: ${name}`)}${STDIO}`);
    expect(named('my-tool-2')).toEqual([]);
    for (const name of ['my--tool', 'my-tool-', 'my_tool', `a${'b'.repeat(41)}`]) {
      expect(named(name)).toEqual([
        [
          'name',
          `found "${name}", expected a name of 2 to 41 characters: a lowercase letter, then lowercase letters or digits, with single - between them (my-tool)`,
        ],
      ]);
    }
  });

  it('takes event hooks: a hidden tool, lifecycle types only, capability events (and events.all for all)', () => {
    const hooks = (events: string, capabilities: string, hidden = '[on_task_event]') =>
      inline(
        `${HEAD}${STDIO}events: ${events}\ntools: { hidden: ${hidden} }\ncapabilities: ${capabilities}\n`,
      );
    expect(
      hooks('[{ tool: on_task_event, types: [task:started, task:done] }]', '[events]'),
    ).toEqual([]);
    expect(
      hooks('[{ tool: on_task_event, types: ["task:*"], sessions: all }]', '[events, events.all]'),
    ).toEqual([]);
    expect(hooks('[{ tool: on_task_event, types: [task:started] }]', '[]')).toEqual([
      [
        'capabilities',
        'found no "events", expected "events" because the manifest declares 1 event hook',
      ],
    ]);
    expect(
      hooks('[{ tool: on_task_event, types: [task:started], sessions: all }]', '[events]'),
    ).toEqual([
      [
        'capabilities',
        'found no "events.all", expected "events.all" because events[0] has sessions: all (the tasks of every session, not only this integration\'s own)',
      ],
    ]);
    expect(hooks('[{ tool: on_task_event, types: [task:started] }]', '[events]', '[]')).toEqual([
      [
        'events[0].tool',
        'found "on_task_event", expected a tool of this integration listed in tools.hidden, since only the gateway may call hook tools (tools.hidden is empty)',
      ],
    ]);
    // task:tool_use (one per tool call) and task:created are not hook types.
    const [[where, message]] = hooks(
      '[{ tool: on_task_event, types: [task:tool_use] }]',
      '[events]',
    ) as [[string, string]];
    expect(where).toBe('events[0].types[0]');
    expect(message).toContain('task:started');
    expect(
      hooks(
        '[{ tool: on_task_event, types: [task:started] }, { tool: on_task_event, types: [task:done] }]',
        '[events]',
      )[0]?.[0],
    ).toBe('events[1].tool');
    expect(
      hooks('[{ tool: on_task_event, types: [task:started], session: own }]', '[events]')[0]?.[0],
    ).toBe('events[0].session');
  });

  it(`takes settings in server.url as \${KEY}: declared, not secret, always with a value`, () => {
    const http = (url: string, settings: string) =>
      inline(`${HEAD}server: { transport: http, url: "${url}" }\nsettings: ${settings}\n`);
    expect(http(`http://127.0.0.1:\${PORT}/mcp`, '[{ key: PORT, auto: port }]')).toEqual([]);
    expect(
      http(
        `http://\${HOST}:\${PORT}/\${TENANT}/mcp`,
        '[{ key: HOST, default: "127.0.0.1" }, { key: PORT, required: true }, { key: TENANT, default: t1 }]',
      ),
    ).toEqual([]);
    expect(http(`http://127.0.0.1:\${PORT}/mcp`, '[]')).toEqual([
      [
        'server.url',
        `found \${PORT}, expected the key of a setting declared in settings (none is declared)`,
      ],
    ]);
    expect(
      http(`http://127.0.0.1:\${PORT}/mcp`, '[{ key: PORT, secret: true, required: true }]'),
    ).toEqual([
      [
        'server.url',
        `found \${PORT}, a secret setting, expected placeholders naming settings that are not secret (a URL is logged and shown)`,
      ],
    ]);
    expect(http(`http://127.0.0.1:\${PORT}/mcp`, '[{ key: PORT }]')).toEqual([
      [
        'server.url',
        `found \${PORT}, declared without required, default or auto, expected placeholders naming settings that always have a value: required: true, a default, or auto: port`,
      ],
    ]);
    expect(http(`http://127.0.0.1:\${port}/mcp`, '[]')).toEqual([
      [
        'server.url',
        `found "http://127.0.0.1:\${port}/mcp", expected placeholders written \${SETTING_KEY}, each naming a setting (e.g. \${CHAT_PORT})`,
      ],
    ]);
    expect(http(`ftp://127.0.0.1:\${PORT}/mcp`, '[{ key: PORT, auto: port }]')).toEqual([
      [
        'server.url',
        `found "ftp://127.0.0.1:\${PORT}/mcp", expected an http:// or https:// URL without credentials or #fragment, e.g. http://127.0.0.1:7001/mcp, with settings as \${KEY} (e.g. http://127.0.0.1:\${PORT}/mcp)`,
      ],
    ]);
  });

  it('takes auto: port without a default and only on a setting that is not secret', () => {
    const settings = (list: string) => inline(`${HEAD}${STDIO}settings: ${list}\n`);
    expect(settings('[{ key: PORT, auto: port }]')).toEqual([]);
    expect(settings('[{ key: PORT, auto: port, default: "8080" }]')).toEqual([
      [
        'settings[0].auto',
        'found auto: port and a default, expected either auto or default, not both',
      ],
    ]);
    expect(settings('[{ key: PORT, auto: port, secret: true }]')).toEqual([
      [
        'settings[0].auto',
        'found auto: port on a secret setting, expected auto only on a setting that is not secret (the gateway shows what it picked)',
      ],
    ]);
    expect(settings('[{ key: PORT, auto: host }]')).toEqual([
      ['settings[0].auto', 'found "host", expected "port"'],
    ]);
  });

  it('does not accept env on the server: settings are the only way in', () => {
    expect(inline(`${HEAD}server: { transport: stdio, command: node, env: { A: b } }\n`)).toEqual([
      [
        'server.env',
        'found unknown key "env", expected one of transport, command, args, cwd, instances, timeoutMs',
      ],
    ]);
  });

  it('requires a secret for signed schemes and refuses one for scheme none', () => {
    const hooks = (verify: string) =>
      `${HEAD}${STDIO}settings: [{ key: S }]\nwebhooks: [{ name: e, verify: ${verify}, handler: h }]\ntools: { hidden: [h] }\ncapabilities: [webhooks]\n`;
    expect(inline(hooks('{ scheme: slack }'))).toEqual([
      [
        'webhooks[0].verify.secret',
        'missing, expected the key of a setting declared in settings (declared: S), holding the slack signing secret',
      ],
    ]);
    expect(inline(hooks('{ scheme: none, secret: S }'))).toEqual([
      [
        'webhooks[0].verify.secret',
        'found "S", expected no secret with scheme none (unsigned deliveries)',
      ],
    ]);
    expect(inline(hooks('{ scheme: none }'))).toEqual([]);
  });

  it('caps webhook bodies at 25 MiB', () => {
    const hook = (bytes: number) =>
      `${HEAD}${STDIO}webhooks: [{ name: e, verify: { scheme: none }, handler: h, maxBodyBytes: ${bytes} }]\ntools: { hidden: [h] }\ncapabilities: [webhooks]\n`;
    expect(inline(hook(25 * 1024 * 1024))).toEqual([]);
    expect(inline(hook(25 * 1024 * 1024 + 1))).toEqual([
      [
        'webhooks[0].maxBodyBytes',
        'found 26214401, expected a whole number of bytes from 1 to 26214400 (25 MiB)',
      ],
    ]);
  });

  it('finds duplicate setting keys, schedule names, process names and dispatcher types', () => {
    const text = `${HEAD}${STDIO}settings: [{ key: A }, { key: A }]
dispatchers: [{ type: d, handler: h }, { type: d, handler: h }]
schedules: [{ name: s, cron: "* * * * *", handler: h }, { name: s, cron: "0 * * * *", handler: h }]
processes: [{ name: p, command: x }, { name: p, command: y }]
tools: { hidden: [h] }
capabilities: [dispatch, schedules, processes]
`;
    expect(inline(text).map(([where]) => where)).toEqual([
      'settings[1].key',
      'dispatchers[1].type',
      'schedules[1].name',
      'processes[1].name',
    ]);
  });

  it('refuses the built-in dispatch types and outbound hosts without the capability', () => {
    expect(
      inline(
        `${HEAD}${STDIO}dispatchers: [{ type: webhook, handler: h }]\ntools: { hidden: [h] }\ncapabilities: [dispatch]\n`,
      ),
    ).toEqual([
      [
        'dispatchers[0].type',
        'found "webhook", expected a dispatch type other than the built-in webhook, internal, none',
      ],
    ]);
    expect(inline(`${HEAD}${STDIO}outboundHosts: [api.example.com]\n`)).toEqual([
      [
        'capabilities',
        'found no "http.outbound", expected "http.outbound" because outboundHosts lists 1 host',
      ],
    ]);
  });

  it('accepts host:port and refuses URLs and uppercase hosts', () => {
    const hosts = (list: string) =>
      inline(`${HEAD}${STDIO}capabilities: [http.outbound]\noutboundHosts: ${list}\n`);
    expect(hosts('[api.github.com, "127.0.0.1:8080"]')).toEqual([]);
    expect(hosts('["https://api.github.com", API.GITHUB.COM, "x.com:70000"]')).toEqual(
      [0, 1, 2].map((i) => [
        `outboundHosts[${i}]`,
        expect.stringContaining('expected a lowercase host name such as api.github.com'),
      ]),
    );
  });

  it('hints at quoting a cron expression that starts with *', () => {
    expect(
      inline(
        `${HEAD}${STDIO}schedules: [{ name: s, cron: * * * * *, handler: h }]\ntools: { hidden: [h] }\ncapabilities: [schedules]\n`,
      ),
    ).toEqual([
      [
        '',
        'invalid YAML at line 6, column 30: Alias cannot be an empty string (a value starting with * is read as an alias: quote it, e.g. "* * * * *")',
      ],
    ]);
  });
});

describe('manifest: cron shape', () => {
  it.each([
    '0 6 * * *',
    '*/15 * * * *',
    '0 9 * * 1',
    '0 9 * * MON-FRI',
    '30 0 6 1,15 JAN ?',
    '0 0 1-10/2 * *',
    '0 0 * * 7',
  ])('accepts %s', (expression) => {
    expect(cronProblem(expression)).toBeUndefined();
  });

  it.each([
    ['0 6 * *', /^a cron expression of 5 fields/],
    ['0 6 * * * * *', /^a cron expression of 5 fields/],
    ['60 * * * *', /^field 1 \(minute\)/],
    ['0 0 0 * *', /^field 3 \(day of month\)/],
    ['0 0 * 13 *', /^field 4 \(month\)/],
    ['0 0 * * 8', /^field 5 \(day of week\)/],
    ['0 0 * * 5-1', /^field 5 \(day of week\)/],
    ['? * * * *', /^field 1 \(minute\)/],
    ['*/0 * * * *', /^field 1 \(minute\)/],
  ])('refuses %s', (expression, problem) => {
    expect(cronProblem(expression)).toMatch(problem);
  });
});

describe('docs/manifest.schema.json', () => {
  it('is what scripts/manifest-schema.ts generates from the zod schema', () => {
    const check = checkManifestSchema();
    expect(check.problem).toBeUndefined();
    expect(check.current).toBe(true);
  });
});
