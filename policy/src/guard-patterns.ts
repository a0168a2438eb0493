import { z } from 'zod';

/**
 * The tools a guardrail names (a budget's `perTool`, an argument rule's `tools`, later an
 * approval rule): `integration:tool` where either side is `*`, a name, or a prefix ending in `*`
 * (`*:delete_*`, `github:get_*`). A guardrail names families of tools, which a scope never does
 * (scopes stay exact names or `*`: what a token may reach is never guessed from a prefix). One
 * language and one matcher for every guardrail, so a pattern means the same wherever it is written.
 */
export const GUARD_TOOL_PATTERN = /^(\*|[a-z][a-z0-9-]{0,40}\*?):(\*|[A-Za-z0-9_.-]{1,128}\*?)$/;
export const GUARD_TOOL_EXPECTED =
  'a tool pattern integration:tool, either side a name, * or a prefix ending in * (e.g. github:comment, *:delete_*)';

export const guardToolPattern = z
  .string({ error: `expected ${GUARD_TOOL_EXPECTED}` })
  .regex(GUARD_TOOL_PATTERN, `expected ${GUARD_TOOL_EXPECTED}`);

export function guardPatternMatches(pattern: string, integration: string, tool: string): boolean {
  const at = pattern.indexOf(':');
  if (at < 0) return false;
  return side(pattern.slice(0, at), integration) && side(pattern.slice(at + 1), tool);
}

function side(pattern: string, value: string): boolean {
  if (pattern === '*' || pattern === value) return true;
  return pattern.endsWith('*') && value.startsWith(pattern.slice(0, -1));
}
