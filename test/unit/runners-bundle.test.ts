// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} is the literal text Claude Code and Cursor expand

import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { type BundleInput, buildBundle, tokenEnvName } from '../../gateway/src/runners/bundle.ts';
import { BUNDLE_FILES, bundleFiles, renderConfig } from '../../gateway/src/runners/files.ts';
import { GOOSE_BUILTIN_EXTENSIONS } from '../../gateway/src/runners/formats/goose.ts';
import { tomlKey, tomlString } from '../../gateway/src/runners/formats/toml.ts';

// The injection bundle (ARCHITECTURE §4, REFERENCES §D): exact files per agent format.
const input: BundleInput = {
  publicUrl: 'http://gw.test:8080/',
  taskId: 't1',
  sessionId: 's1',
  token: 'tok-mcp',
  integrations: [
    { name: 'github', url: 'http://gw.test:8080/mcp/github', token: 'tok-gh' },
    { name: 'home-api', url: 'http://gw.test:8080/mcp/home-api', token: 'tok-home' },
  ],
  switchboardServer: { url: 'http://gw.test:8080/mcp/switchboard', token: 'tok-sb' },
};
const bundle = buildBundle(input);

describe('buildBundle', () => {
  it('lists the built-in switchboard server first, then each granted integration', () => {
    expect(bundle.servers).toEqual([
      {
        name: 'switchboard',
        url: 'http://gw.test:8080/mcp/switchboard',
        tokenEnv: 'SWITCHBOARD_TOKEN_SWITCHBOARD',
      },
      {
        name: 'github',
        url: 'http://gw.test:8080/mcp/github',
        tokenEnv: 'SWITCHBOARD_TOKEN_GITHUB',
      },
      {
        name: 'home-api',
        url: 'http://gw.test:8080/mcp/home-api',
        tokenEnv: 'SWITCHBOARD_TOKEN_HOME_API',
      },
    ]);
    expect(bundle.env).toEqual({
      SWITCHBOARD_URL: 'http://gw.test:8080',
      SWITCHBOARD_MCP_URL: 'http://gw.test:8080/mcp',
      SWITCHBOARD_TOKEN: 'tok-mcp',
      SWITCHBOARD_TASK_ID: 't1',
      SWITCHBOARD_SESSION_ID: 's1',
      SWITCHBOARD_TOKEN_SWITCHBOARD: 'tok-sb',
      SWITCHBOARD_TOKEN_GITHUB: 'tok-gh',
      SWITCHBOARD_TOKEN_HOME_API: 'tok-home',
    });
    expect(bundle.secretEnv.sort()).toEqual([
      'SWITCHBOARD_TOKEN',
      'SWITCHBOARD_TOKEN_GITHUB',
      'SWITCHBOARD_TOKEN_HOME_API',
      'SWITCHBOARD_TOKEN_SWITCHBOARD',
    ]);
  });

  it('always has the switchboard server, even with no integration granted', () => {
    const bare = buildBundle({ ...input, integrations: [] });
    expect(bare.servers.map((s) => s.name)).toEqual(['switchboard']);
  });

  it('a task without a session: sessionId null, no SWITCHBOARD_SESSION_ID', () => {
    for (const sessionId of [null, undefined]) {
      const alone = buildBundle({ ...input, sessionId });
      expect(alone.sessionId).toBeNull();
      expect(alone.env).not.toHaveProperty('SWITCHBOARD_SESSION_ID');
      expect(JSON.parse(renderConfig(alone, 'json')).sessionId).toBeNull();
    }
    expect(() => buildBundle({ ...input, sessionId: '' })).toThrow(/sessionId/);
  });

  it('refuses a duplicate, an integration named switchboard, a bad name or URL', () => {
    const gh = input.integrations[0]!;
    expect(() => buildBundle({ ...input, integrations: [gh, gh] })).toThrow(/granted twice/);
    expect(() => buildBundle({ ...input, integrations: [{ ...gh, name: 'switchboard' }] })).toThrow(
      /cannot be named switchboard/,
    );
    expect(() => buildBundle({ ...input, integrations: [{ ...gh, name: 'Git_Hub' }] })).toThrow(
      /integrations\.0\.name/,
    );
    expect(() => buildBundle({ ...input, publicUrl: 'file:///etc/passwd' })).toThrow(/publicUrl/);
  });

  it('maps names to env var names without collisions', () => {
    expect(tokenEnvName('a-b-c')).toBe('SWITCHBOARD_TOKEN_A_B_C');
  });
});

describe('renderConfig', () => {
  it('claude: mcpServers, type http, the token by ${VAR}', () => {
    expect(JSON.parse(renderConfig(bundle, 'claude'))).toEqual({
      mcpServers: {
        switchboard: {
          type: 'http',
          url: 'http://gw.test:8080/mcp/switchboard',
          headers: { Authorization: 'Bearer ${SWITCHBOARD_TOKEN_SWITCHBOARD}' },
        },
        github: {
          type: 'http',
          url: 'http://gw.test:8080/mcp/github',
          headers: { Authorization: 'Bearer ${SWITCHBOARD_TOKEN_GITHUB}' },
        },
        'home-api': {
          type: 'http',
          url: 'http://gw.test:8080/mcp/home-api',
          headers: { Authorization: 'Bearer ${SWITCHBOARD_TOKEN_HOME_API}' },
        },
      },
    });
  });

  it('cursor: url + headers with ${env:VAR}', () => {
    const doc = JSON.parse(renderConfig(bundle, 'cursor'));
    expect(doc.mcpServers.github).toEqual({
      url: 'http://gw.test:8080/mcp/github',
      headers: { Authorization: 'Bearer ${env:SWITCHBOARD_TOKEN_GITHUB}' },
    });
    expect(Object.keys(doc.mcpServers)).toEqual(['switchboard', 'github', 'home-api']);
  });

  // default_tools_approval_mode: unattended `codex exec` refuses every unapproved MCP call
  // (REFERENCES §J); the file holds the task's servers only, so this approves its scope.
  it('codex: [mcp_servers.<name>] with url, bearer_token_env_var and approval, exactly', () => {
    const one = buildBundle({ ...input, integrations: [input.integrations[0]!] });
    expect(renderConfig(one, 'codex')).toBe(
      [
        '[mcp_servers.switchboard]',
        'url = "http://gw.test:8080/mcp/switchboard"',
        'bearer_token_env_var = "SWITCHBOARD_TOKEN_SWITCHBOARD"',
        'startup_timeout_sec = 20',
        'tool_timeout_sec = 3600',
        'default_tools_approval_mode = "approve"',
        'enabled = true',
        '',
        '[mcp_servers.github]',
        'url = "http://gw.test:8080/mcp/github"',
        'bearer_token_env_var = "SWITCHBOARD_TOKEN_GITHUB"',
        'startup_timeout_sec = 20',
        'tool_timeout_sec = 3600',
        'default_tools_approval_mode = "approve"',
        'enabled = true',
        '',
      ].join('\n'),
    );
  });

  it('goose: extensions map, streamable_http, uri, the token by env_keys substitution', () => {
    const doc = parseYaml(renderConfig(bundle, 'goose'));
    // goose reads each env_keys name from its environment and substitutes ${NAME} in headers.
    expect(doc.extensions.github).toEqual({
      enabled: true,
      type: 'streamable_http',
      name: 'github',
      description: 'github through the Switchboard gateway',
      uri: 'http://gw.test:8080/mcp/github',
      headers: { Authorization: 'Bearer ${SWITCHBOARD_TOKEN_GITHUB}' },
      envs: {},
      env_keys: ['SWITCHBOARD_TOKEN_GITHUB'],
      timeout: 3600,
    });
    expect(doc.extensions['home-api'].env_keys).toEqual(['SWITCHBOARD_TOKEN_HOME_API']);
    // The task's servers are the only ones on: every goose built-in is listed, turned off.
    const on = Object.entries(doc.extensions as Record<string, { enabled: boolean }>)
      .filter(([, e]) => e.enabled)
      .map(([name]) => name);
    expect(on).toEqual(['switchboard', 'github', 'home-api']);
    for (const name of GOOSE_BUILTIN_EXTENSIONS) {
      expect(doc.extensions[name]).toEqual({
        enabled: false,
        type: 'platform',
        name,
        description: name,
      });
    }
  });

  it('json: where to connect and which variable holds each token', () => {
    expect(JSON.parse(renderConfig(bundle, 'json'))).toEqual({
      version: 1,
      taskId: 't1',
      sessionId: 's1',
      publicUrl: 'http://gw.test:8080',
      mcp: { url: 'http://gw.test:8080/mcp', tokenEnv: 'SWITCHBOARD_TOKEN' },
      servers: {
        switchboard: {
          url: 'http://gw.test:8080/mcp/switchboard',
          tokenEnv: 'SWITCHBOARD_TOKEN_SWITCHBOARD',
        },
        github: { url: 'http://gw.test:8080/mcp/github', tokenEnv: 'SWITCHBOARD_TOKEN_GITHUB' },
        'home-api': {
          url: 'http://gw.test:8080/mcp/home-api',
          tokenEnv: 'SWITCHBOARD_TOKEN_HOME_API',
        },
      },
    });
  });

  it('no file holds a token: every format refers to the environment (goose included)', () => {
    const files = bundleFiles(bundle);
    expect(files.map((f) => f.format)).toEqual(['claude', 'codex', 'cursor', 'goose', 'json']);
    for (const file of files) {
      const holds = ['tok-mcp', 'tok-gh', 'tok-home', 'tok-sb'].some((t) =>
        file.content.includes(t),
      );
      expect({ format: file.format, holds, secret: file.secret }).toEqual({
        format: file.format,
        holds: false,
        secret: false,
      });
    }
    expect(BUNDLE_FILES.goose.secret).toBe(false);
  });
});

describe('escaping', () => {
  // No tab or newline: a URL parser strips them, so they never reach a bundle (tomlString above).
  const tricky = 'http://gw.test:8080/mcp/x?q="a\\b"&t=\'s\'\u0001ctl\u007f#frag é🙂';

  it('TOML basic strings escape quotes, backslashes and control characters', () => {
    expect(tomlString('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(tomlString('\t\n\r\b\f')).toBe('"\\t\\n\\r\\b\\f"');
    expect(tomlString('\u0001\u001f\u007f')).toBe('"\\u0001\\u001f\\u007f"');
    expect(tomlString('é🙂')).toBe('"é🙂"');
    expect(tomlKey('github')).toBe('github');
    expect(tomlKey('home-api_2')).toBe('home-api_2');
    expect(tomlKey('a.b')).toBe('"a.b"');
    expect(tomlKey('')).toBe('""');
  });

  it('a URL full of specials survives every format', () => {
    const b = buildBundle({
      ...input,
      integrations: [{ name: 'github', url: tricky, token: 'tok"with\\odd: chars #' }],
    });
    const toml = renderConfig(b, 'codex');
    const urlLine = toml.split('\n').find((l) => l.startsWith('url = "http://gw.test:8080/mcp/x'));
    expect(urlLine).toBe(
      'url = "http://gw.test:8080/mcp/x?q=\\"a\\\\b\\"&t=\'s\'\\u0001ctl\\u007f#frag é🙂"',
    );
    expect(toml.split('\n')).toHaveLength(16); // 7 lines per server, a blank line, an end: no newline leaked
    expect(JSON.parse(renderConfig(b, 'claude')).mcpServers.github.url).toBe(tricky);
    expect(JSON.parse(renderConfig(b, 'cursor')).mcpServers.github.url).toBe(tricky);
    const goose = parseYaml(renderConfig(b, 'goose'));
    expect(goose.extensions.github.uri).toBe(tricky);
    expect(goose.extensions.github.headers.Authorization).toBe(
      'Bearer ${SWITCHBOARD_TOKEN_GITHUB}',
    );
  });
});
