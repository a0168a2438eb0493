/**
 * Names on the aggregate endpoint (/mcp): every integration's tools and prompts share one
 * namespace there, so each is published as `<integration>__<name>`. Integration names match
 * [a-z][a-z0-9-]* (no underscore), so the FIRST `__` always ends the integration part and the
 * rest is the upstream name verbatim, even when that name itself contains `__`.
 */
export const SEPARATOR = '__';

/** The spec's tool-name rule (2025-11-25 server/tools "Tool names"): 1–128 of [A-Za-z0-9_.-]. */
const SPEC_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

export function namespaced(integration: string, name: string): string {
  return `${integration}${SEPARATOR}${name}`;
}

/** `github__get_pr` → { integration: 'github', name: 'get_pr' }; undefined without a separator. */
export function splitNamespaced(value: string): { integration: string; name: string } | undefined {
  const at = value.indexOf(SEPARATOR);
  if (at <= 0) return undefined;
  const name = value.slice(at + SEPARATOR.length);
  if (name.length === 0) return undefined;
  return { integration: value.slice(0, at), name };
}

/**
 * Whether a published name is one a spec-following client can call.
 */
export function isSpecName(value: string): boolean {
  return SPEC_NAME.test(value);
}

/**
 * The one rule for an upstream's tool names, on every endpoint (/mcp and /mcp/<integration>
 * alike, so both list the same tools): the spec's characters, and short enough that the
 * prefixed name `<integration>__<name>` still fits its 128. A name with NUL, ESC, newlines, RTL
 * overrides or spaces, an empty one, or a 5,000-character one is left out everywhere rather than
 * shown on one endpoint and dropped on the other. Undefined when the name is fine.
 */
export function toolNameProblem(integration: string, name: string): string | undefined {
  if (name.length === 0) return 'empty';
  if (!isSpecName(name)) {
    return name.length > 128 ? 'longer than 128 characters' : 'characters outside [A-Za-z0-9_.-]';
  }
  if (!isSpecName(namespaced(integration, name))) {
    return `longer than 128 characters as ${integration}${SEPARATOR}<name>`;
  }
  return undefined;
}
