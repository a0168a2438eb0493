/**
 * The one rule for what a task may call (issue 12 M1): a task's scope never exceeds the tools
 * of the profile it runs with. It is applied twice, by the same functions: when a task is
 * created (the API refuses a pattern outside the profile; a trigger's `execution.tools` is
 * intersected with it), and every time tokens are minted for the task (grant.ts), so a scope
 * stored before this rule, or a profile narrowed since, can never yield a wider token.
 *
 * Scope patterns are `integration:tool`, either side `*` (tokens/scope.ts). An empty task scope
 * means "the profile's tools".
 */

function split(pattern: string): [string, string] {
  const at = pattern.indexOf(':');
  return [pattern.slice(0, at), pattern.slice(at + 1)];
}

const meet = (a: string, b: string): string | undefined =>
  a === '*' ? b : b === '*' || a === b ? a : undefined;

/**
 * The patterns allowed by both lists: `github:*` ∩ `*:get_pr` = `github:get_pr`. A task that
 * names no scope gets the profile's tools (the profile is the operator's ceiling, a task's scope
 * only narrows it). Two lists with nothing in common give `[]`: nothing.
 */
export function intersectScopes(task: readonly string[], profile: readonly string[]): string[] {
  if (task.length === 0) return [...new Set(profile)];
  const out = new Set<string>();
  for (const a of task) {
    const [ai, at] = split(a);
    for (const b of profile) {
      const [bi, bt] = split(b);
      const i = meet(ai, bi);
      const t = meet(at, bt);
      if (i !== undefined && t !== undefined) out.add(`${i}:${t}`);
    }
  }
  return [...out];
}

/** Does `allowed` (a profile's tools) grant everything `pattern` asks for? */
export function patternWithin(pattern: string, allowed: readonly string[]): boolean {
  const [integration, tool] = split(pattern);
  return allowed.some((a) => {
    const [ai, at] = split(a);
    return (ai === '*' || ai === integration) && (at === '*' || at === tool);
  });
}

export interface NarrowedScope {
  /** What the task may have: requested ∩ profile (`[]` if nothing was requested: the profile's). */
  scope: string[];
  /** The requested patterns the profile does not wholly grant. */
  outside: string[];
  /** Something was requested and none of it is in the profile. */
  empty: boolean;
}

/** A requested scope (a task body's `scope`, a trigger's `execution.tools`) against a profile. */
export function narrowScope(
  requested: readonly string[],
  profileTools: readonly string[],
): NarrowedScope {
  if (requested.length === 0) return { scope: [], outside: [], empty: false };
  const scope = intersectScopes(requested, profileTools);
  return {
    scope,
    outside: requested.filter((p) => !patternWithin(p, profileTools)),
    empty: scope.length === 0,
  };
}
