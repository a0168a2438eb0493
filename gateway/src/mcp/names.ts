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
 * Whether a published name is one a spec-following client can call. An upstream name that is
 * already near 128 characters does not fit once prefixed; such a tool is left out of /mcp
 * (it stays reachable on /mcp/<integration>, where names are not prefixed).
 */
export function isSpecName(value: string): boolean {
  return SPEC_NAME.test(value);
}
