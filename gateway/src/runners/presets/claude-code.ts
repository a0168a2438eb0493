import { TOOL_TIMEOUT_SEC } from '../formats/toml.ts';
import { claudeStreamParser } from './claude-stream.ts';
import type { AgentPreset } from './preset.ts';

/**
 * Claude Code (`@anthropic-ai/claude-code`, tried at 2.1.332, REFERENCES §J) in print mode:
 * - the prompt on stdin, never an argv word (`ps` shows argv to every user, and a prompt
 *   starting with `--` must not pass for an option);
 * - exactly the bundle's servers: `--mcp-config {mcp_json}` (the `.mcp.json` the bundle
 *   writes, tokens as `${SWITCHBOARD_TOKEN_X}`), `--strict-mcp-config` so no user or project
 *   config adds any, and `--allowedTools {claude_allowed_tools}` (`mcp__<server>` for each,
 *   comma-separated) so their tools run without a permission prompt nobody could answer;
 *   the gateway hides each server's out-of-scope tools, so the model is never offered one;
 * - `--tools Skill,ListMcpResourcesTool,ReadMcpResourceTool`: of Claude Code's built-in tools
 *   only Skill (it reads the skills the gateway placed) and the MCP resource readers, so the
 *   model is offered the task's MCP tools, resources and skills, and cannot run code or read a
 *   file the gateway did not give it;
 * - `stream-json` output (one JSON object per line), which `claude-stream.ts` turns into task
 *   events and the final answer. `--verbose` is required with stream-json in print mode.
 *
 * - the task's context in `~/.claude/CLAUDE.md` (preamble and session history: Claude Code puts
 *   its user memory file in the first user message, in print mode too) and its skills in
 *   `~/.claude/skills/<integration>-<skill>/SKILL.md` (listed to the model by name and
 *   description; the body is read when the model uses the skill). HOME is the task's folder, so
 *   these are the task's whatever the working directory; measured with 2.1.332 against the
 *   fake model (test/integration/agent-claude-code.test.ts).
 *
 * The model credentials (ANTHROPIC_API_KEY, or ANTHROPIC_BASE_URL for a proxy) are the
 * profile's `env`, never the preset's.
 */
/** The built-in tools a claude-code task keeps (`--tools`); see the args below. */
export const CLAUDE_BUILT_IN_TOOLS = ['Skill', 'ListMcpResourcesTool', 'ReadMcpResourceTool'];

export const claudeCodePreset: AgentPreset = {
  name: 'claude-code',
  command: 'claude',
  args: [
    '-p',
    '--output-format',
    'stream-json',
    '--verbose',
    '--mcp-config',
    '{mcp_json}',
    '--strict-mcp-config',
    '--allowedTools',
    '{claude_allowed_tools}',
    // Of Claude Code's built-in tools only Skill (the task's skills, placed by the gateway) and
    // the two that read the servers' MCP resources: no Bash, Read, Write, WebFetch, …; the
    // task's MCP servers are what its agent is given. Without it (2.1.332, tried against the
    // fake model) the model was offered them all: print mode refused Bash and a Read outside
    // the working folder for want of permission, and Read refused /proc files itself, but Read
    // in the working folder ran without asking. Not offering them leaves nothing to get wrong.
    '--tools',
    CLAUDE_BUILT_IN_TOOLS.join(','),
  ],
  stdin: 'prompt',
  env: {
    // MCP tools listed in `tools` rather than deferred behind a search tool (REFERENCES §J).
    ENABLE_TOOL_SEARCH: 'false',
    // No update checks, telemetry, error reports or feedback prompts: the four below in one.
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    // No model calls for flavour text: every call to the model is the task's.
    DISABLE_NON_ESSENTIAL_MODEL_CALLS: '1',
    // An MCP call may wait for a human (ask_user, a call held for approval): 1 h, as Codex and
    // goose get (formats/toml.ts TOOL_TIMEOUT_SEC); the gateway bounds upstream calls itself.
    MCP_TOOL_TIMEOUT: String(TOOL_TIMEOUT_SEC * 1000),
  },
  context: { into: 'files', instructions: '.claude/CLAUDE.md', skills: '.claude/skills' },
  output: claudeStreamParser,
};
