/**
 * Scope patterns of per-task tokens: `integration:tool`, where either side may be `*` (all).
 * `github:*` grants every tool of github; `*:*` grants everything; `github:get_pr` one tool.
 * Partial wildcards (`get_*`) are not patterns: a grant is either whole or exact, so what a
 * token allows can be read at a glance.
 */
export const SCOPE_PATTERN = /^(\*|[a-z][a-z0-9-]{0,40}):(\*|[A-Za-z0-9_.-]{1,128})$/;

export const SCOPE_EXPECTED =
  'integration:tool, either side may be * (github:get_pr, github:*, *:*)';

export function isScopePattern(value: string): boolean {
  return SCOPE_PATTERN.test(value);
}

function split(pattern: string): [string, string] | undefined {
  const at = pattern.indexOf(':');
  if (at < 0) return undefined;
  return [pattern.slice(0, at), pattern.slice(at + 1)];
}

/** Does the scope allow calling `tool` of `integration`? */
export function scopeAllows(scope: readonly string[], integration: string, tool: string): boolean {
  return scope.some((pattern) => {
    const parts = split(pattern);
    if (!parts) return false;
    const [i, t] = parts;
    return (i === '*' || i === integration) && (t === '*' || t === tool);
  });
}

/** Does the scope allow at least one tool of `integration`? */
export function scopeCoversIntegration(scope: readonly string[], integration: string): boolean {
  return scope.some((pattern) => {
    const parts = split(pattern);
    return parts !== undefined && (parts[0] === '*' || parts[0] === integration);
  });
}

/**
 * Does the scope grant the whole of `integration` (`<integration>:*` or `*:*`)? Its resources,
 * prompts and completions are served only then: they are not tools, a pattern names none of
 * them, and a token for one tool must not read everything else the integration holds.
 */
export function scopeCoversAllOf(scope: readonly string[], integration: string): boolean {
  return scope.some((pattern) => {
    const parts = split(pattern);
    return (
      parts !== undefined && (parts[0] === '*' || parts[0] === integration) && parts[1] === '*'
    );
  });
}

/** The part of `scope` that concerns one integration (for a token minted for /mcp/<integration>). */
export function scopeFor(scope: readonly string[], integration: string): string[] {
  return scope.filter((pattern) => {
    const parts = split(pattern);
    return parts !== undefined && (parts[0] === '*' || parts[0] === integration);
  });
}
