import { type Bundle, ENV } from '../bundle.ts';

/**
 * The JSON formats (REFERENCES §D 6.1, 6.3). The token stays in the environment: Claude Code
 * expands `${VAR}` in headers, Cursor `${env:VAR}`. JSON.stringify does all the escaping.
 */

/** Claude Code `.mcp.json` / `--mcp-config`: `mcpServers`, `type: http`. */
export function renderClaude(bundle: Bundle): string {
  const mcpServers: Record<string, unknown> = {};
  for (const s of bundle.servers)
    mcpServers[s.name] = {
      type: 'http',
      url: s.url,
      headers: { Authorization: `Bearer \${${s.tokenEnv}}` },
    };
  return `${JSON.stringify({ mcpServers }, null, 2)}\n`;
}

/** Cursor `.cursor/mcp.json`: `url` means a remote server, no `type`. */
export function renderCursor(bundle: Bundle): string {
  const mcpServers: Record<string, unknown> = {};
  for (const s of bundle.servers)
    mcpServers[s.name] = { url: s.url, headers: { Authorization: `Bearer \${env:${s.tokenEnv}}` } };
  return `${JSON.stringify({ mcpServers }, null, 2)}\n`;
}

/**
 * `switchboard.json`, read by the reference agent and by home-grown ones: where to connect
 * and which variable holds each token. Token-free like the others.
 */
export function renderSwitchboardJson(bundle: Bundle): string {
  const doc = {
    version: 1,
    taskId: bundle.taskId,
    sessionId: bundle.sessionId,
    publicUrl: bundle.publicUrl,
    mcp: { url: `${bundle.publicUrl}/mcp`, tokenEnv: ENV.token },
    servers: Object.fromEntries(
      bundle.servers.map((s) => [s.name, { url: s.url, tokenEnv: s.tokenEnv }]),
    ),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
