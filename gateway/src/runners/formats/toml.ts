import type { Bundle } from '../bundle.ts';

/**
 * Codex `config.toml` (REFERENCES §D 6.2): `[mcp_servers.<name>]` with `url` and
 * `bearer_token_env_var`, so Codex sends `Authorization: Bearer $VAR` and the file holds no
 * token. Only the little TOML this needs is written, escaped per TOML 1.0 (basic strings).
 *
 * Every server has `default_tools_approval_mode = "approve"`: unattended `codex exec` (0.171)
 * refuses any MCP call that is not read-only otherwise ("MCP tool call requires approval, but
 * approval policy is never", REFERENCES §J), task_complete included. This approves exactly the
 * task's scope: the file lists the task's servers only, and the gateway hides every tool out
 * of the token's scope, so no other tool can be listed, let alone approved. Nothing else is
 * set here (no model, provider or feature): those are the profile's (docs/agents.md "Codex").
 */

/** A TOML basic string: `\` and `"` escaped, control characters as escapes. */
export function tomlString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    // TOML forbids the other C0 controls and DEL in basic strings.
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** A key: bare when TOML allows it (A-Za-z0-9_-), quoted otherwise. */
export function tomlKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : tomlString(key);
}

// Codex defaults are 10 s to start and 60 s per call (REFERENCES §D 6.2); a gateway on a busy
// machine can take longer to answer initialize, and ask_user and a call held for approval wait
// for a human (ask_user 10 min by default, an approval rule's `timeout` 10 min by default, up
// to 1 h here). The gateway bounds every upstream call itself, so this is only a backstop.
const STARTUP_TIMEOUT_SEC = 20;
export const TOOL_TIMEOUT_SEC = 3_600;

export function renderCodex(bundle: Bundle): string {
  const tables = bundle.servers.map((s) =>
    [
      `[mcp_servers.${tomlKey(s.name)}]`,
      `url = ${tomlString(s.url)}`,
      `bearer_token_env_var = ${tomlString(s.tokenEnv)}`,
      `startup_timeout_sec = ${STARTUP_TIMEOUT_SEC}`,
      `tool_timeout_sec = ${TOOL_TIMEOUT_SEC}`,
      'default_tools_approval_mode = "approve"',
      'enabled = true',
    ].join('\n'),
  );
  return `${tables.join('\n\n')}\n`;
}
