import { type ASTNode, Environment } from '@marcbachmann/cel-js';

/**
 * Argument rules (issue 15): CEL expressions over a tool call's arguments, compiled when the
 * policy loads and evaluated per call by the gateway's argument-rules guard.
 *
 * The library is @marcbachmann/cel-js (pinned 8.0.0), chosen over @bufbuild/cel 0.6.1 after
 * measuring both on a realistic rule (`args.repo.startsWith("acme/") && args.body.size() <
 * 65536 && !args.labels.exists(l, l == "security") && tool in [...]`, 2 KB of arguments):
 * - zero dependencies, 284 KB installed; @bufbuild/cel pulls cel-spec, re2 and protobuf (11 MB);
 * - errors name the line and column with a caret (`Unknown variable: argz` under its `a`),
 *   and it type-checks at compile time (unknown variables, `1 + "a"`); @bufbuild/cel's parser
 *   said `found . but expecting end of input` at column 10 for a missing `)` at column 28, and
 *   checks nothing before evaluation;
 * - 8 µs per evaluation and 27 µs per compile, against 13–14 µs and 283 µs (the arguments had
 *   to be converted to Maps first: a plain object was silently no match);
 * - structural limits (AST nodes, depth) built in; TypeScript types included; both are
 *   maintained (releases in 2026).
 * Neither has a runtime cost limit, so the cost is bounded here, by what an expression may say
 * (checkCost below) and by the gateway's bounds on the arguments (4 MiB body, 64 levels).
 */

/** 1,000 characters: a rule is a sentence, not a program; a longer one belongs in an integration. */
export const MAX_RULE_LENGTH = 1_000;
/** 200 AST nodes and 32 levels: room for ~20 comparisons joined by && and ||. */
const LIMITS = { maxAstNodes: 200, maxDepth: 32, maxListElements: 100, maxMapEntries: 100 };

/**
 * The variables an expression sees. Only these: nothing of the gateway's environment, secrets
 * or state is reachable (an unknown name is a compile error).
 */
export const RULE_VARIABLES = {
  args: 'the call’s arguments (a map; {} when the call sent none)',
  integration: 'the integration’s name, e.g. github',
  tool: 'the upstream’s name of the tool, e.g. comment (never github__comment)',
  profile: 'the task’s profile, or "" for a task without one',
} as const;

/**
 * Functions and methods a rule may call. Left out on purpose: `matches` (JavaScript's
 * backtracking RegExp: `(a+)+$` against 30 a's and a b takes seconds, and the pattern could come
 * from the arguments), `cel.bind` (each bind may double a string: 2^n), `map`, `filter` and
 * `split` (they build lists: a chain multiplies their sizes; `split("a")` of a 4 MiB string took
 * 164 ms), and the time and bytes functions (nothing in JSON arguments needs them).
 */
const ALLOWED_CALLS = new Set([
  'size',
  'has',
  'int',
  'uint',
  'double',
  'string',
  'bool',
  'dyn',
  'startsWith',
  'endsWith',
  'contains',
  'indexOf',
  'lastIndexOf',
  'lowerAscii',
  'upperAscii',
  'trim',
  'substring',
  'join',
  'all',
  'exists',
  'exists_one',
]);
const QUANTIFIERS = new Set(['all', 'exists', 'exists_one']);
/** Bounded by the gateway (names ≤ 128 characters): cheap to read inside a quantifier. */
const SMALL_VARIABLES = new Set(['integration', 'tool', 'profile']);

/**
 * The library's size() of a string counts code points with `for…of`: ~25 ns a character, 100 ms
 * for a 4 MiB argument, on every call (an agent could send such calls back to back). Rules call
 * this one instead (compileArgumentRule renames size → FAST_SIZE before type-checking): the
 * same count by a native scan for surrogates (~1 ns a character), charCodeAt only past one.
 */
const FAST_SIZE = 'fastSize';
const SURROGATE = /[\ud800-\udfff]/;
function codePoints(value: string): bigint {
  // A native scan first: most arguments have no surrogate, and then code points = length.
  if (!SURROGATE.test(value)) return BigInt(value.length);
  let count = value.length;
  for (let i = 0; i < value.length - 1; i++) {
    const unit = value.charCodeAt(i);
    if (unit < 0xd800 || unit > 0xdbff) continue;
    const next = value.charCodeAt(i + 1);
    if (next >= 0xdc00 && next <= 0xdfff) {
      count -= 1;
      i += 1;
    }
  }
  return BigInt(count);
}
const listSize = (value: unknown[]) => BigInt(value.length);
const mapSize = (value: object) =>
  BigInt(value instanceof Map ? value.size : Object.keys(value).length);
const bytesSize = (value: Uint8Array) => BigInt(value.length);

const environment = new Environment({ limits: LIMITS })
  .registerVariable('args', 'map')
  .registerVariable('integration', 'string')
  .registerVariable('tool', 'string')
  .registerVariable('profile', 'string')
  .registerFunction(`${FAST_SIZE}(string): int`, codePoints)
  .registerFunction(`string.${FAST_SIZE}(): int`, codePoints)
  .registerFunction(`${FAST_SIZE}(list): int`, listSize)
  .registerFunction(`list.${FAST_SIZE}(): int`, listSize)
  .registerFunction(`${FAST_SIZE}(map): int`, mapSize)
  .registerFunction(`map.${FAST_SIZE}(): int`, mapSize)
  .registerFunction(`${FAST_SIZE}(bytes): int`, bytesSize)
  .registerFunction(`bytes.${FAST_SIZE}(): int`, bytesSize);

/** Points every size() call of a checked-for-cost AST at FAST_SIZE (see there). */
function useFastSize(node: ASTNode): void {
  if ((node.op === 'call' || node.op === 'rcall') && node.args[0] === 'size') {
    (node.args as unknown[])[0] = FAST_SIZE;
  }
  const args = node.args as unknown;
  const children = Array.isArray(args) ? args.flat(2) : [];
  for (const child of children) {
    if (child && typeof child === 'object' && 'op' in child) useFastSize(child as ASTNode);
  }
}

/**
 * Values (array elements and object members, at any depth) the arguments may hold for a rule to
 * judge them; a matching rule refuses a call with more. An element costs a rule up to 0.2 µs
 * per step that visits it (`"zz" in list` of 400,000 strings: 81 ms; of 10,000 numbers: 0.26
 * ms), so 10,000 keep such a step under 2 ms, where the 4 MiB body bound alone allows 2 million
 * (`[1,1,…]`: ~0.4 s per step). Strings need no such
 * bound: what rules may do to them runs natively, ~1–3 ns a character (≤ 12 ms for 4 MiB).
 */
export const MAX_RULE_ARGUMENT_VALUES = 10_000;

/** Counts the values under `value`, stopping as soon as there are more than `max`. */
export function countValuesUpTo(value: unknown, max: number): number {
  let count = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && count <= max) {
    const next = stack.pop();
    if (typeof next !== 'object' || next === null) continue;
    const children = Array.isArray(next) ? next : Object.values(next);
    count += children.length;
    if (count > max) break;
    for (const child of children)
      if (typeof child === 'object' && child !== null) stack.push(child);
  }
  return count;
}

export interface CompiledRule {
  readonly expression: string;
  /** Throws a CEL EvaluationError (missing field, wrong type) or returns the result. */
  evaluate(variables: RuleVariables): unknown;
}

export interface RuleVariables {
  args: Record<string, unknown>;
  integration: string;
  tool: string;
  profile: string;
}

export type CompileResult =
  | { ok: true; rule: CompiledRule }
  /** `message` names the problem and its place: `at 1:22: Unknown variable: argz`. */
  | { ok: false; message: string };

/** Line and column (1-based) of a character offset, as an editor shows them. */
function position(expression: string, offset: number): string {
  const before = expression.slice(0, Math.max(0, offset));
  const line = before.split('\n').length;
  const column = offset - (before.lastIndexOf('\n') + 1) + 1;
  return `${line}:${column}`;
}

/** The library's message is its summary plus a caret drawing; the YAML error wants one line. */
function describe(error: unknown, expression: string): string {
  const e = error as { summary?: string; message?: string; range?: { start: number } };
  const summary = (e.summary ?? e.message?.split('\n')[0] ?? String(error)).replaceAll(
    FAST_SIZE,
    'size',
  );
  const start = e.range?.start;
  return start === undefined ? summary : `at ${position(expression, start)}: ${summary}`;
}

class RuleError extends Error {
  constructor(
    message: string,
    readonly start: number,
  ) {
    super(message);
  }
}

/**
 * Refuses what could make one evaluation cost more than linear in the arguments: a call not in
 * ALLOWED_CALLS, and a quantifier whose predicate reads `args` or an outer iteration variable
 * (`args.a.all(x, args.b.exists(y, y == x))` is |a|×|b| steps: 10^10 for two lists in a 4 MiB
 * body). A predicate may read its own variable, literals and the small variables, so every
 * element is visited a bounded number of times (at most the expression's 200 nodes).
 */
function checkCost(
  node: ASTNode,
  bound: ReadonlySet<string>,
  inPredicate: boolean,
  expression: string,
): void {
  const check = (child: ASTNode, names: ReadonlySet<string>, predicate: boolean) =>
    checkCost(child, names, predicate, expression);
  switch (node.op) {
    case 'value':
      return;
    case 'id': {
      const name = node.args;
      if (inPredicate && !bound.has(name) && !SMALL_VARIABLES.has(name)) {
        throw new RuleError(
          `a quantifier's predicate may read only its own variable, not ${name} (the cost would grow with the square of the arguments)`,
          node.start,
        );
      }
      return;
    }
    case 'call': {
      const [name, args] = node.args;
      if (!ALLOWED_CALLS.has(name)) throw notAllowed(name, node.start);
      for (const arg of args) check(arg, bound, inPredicate);
      return;
    }
    case 'rcall': {
      const [name, receiver, args] = node.args;
      // The node starts at its receiver: point at the method's name instead.
      const at = expression.indexOf(name, receiver.end);
      if (!ALLOWED_CALLS.has(name)) throw notAllowed(name, at < 0 ? node.start : at);
      check(receiver, bound, inPredicate);
      if (!QUANTIFIERS.has(name)) {
        for (const arg of args) check(arg, bound, inPredicate);
        return;
      }
      const variable = args[0];
      const predicate = args[args.length - 1];
      if (args.length !== 2 || variable?.op !== 'id' || !predicate) return; // the checker says why
      check(predicate, new Set([variable.args]), true);
      return;
    }
    default: {
      const args = node.args as unknown;
      const children = Array.isArray(args) ? args.flat(2) : [args];
      for (const child of children) {
        if (child && typeof child === 'object' && 'op' in child) {
          check(child as ASTNode, bound, inPredicate);
        }
      }
    }
  }
}

function notAllowed(name: string, start: number): RuleError {
  return new RuleError(
    `${name}() is not allowed in an argument rule (allowed: ${[...ALLOWED_CALLS].join(', ')})`,
    start,
  );
}

/** Parse, bound and type-check one `when:` expression; the message says what and where. */
export function compileArgumentRule(expression: string): CompileResult {
  if (expression.length > MAX_RULE_LENGTH) {
    return {
      ok: false,
      message: `expected at most ${MAX_RULE_LENGTH} characters (found ${expression.length})`,
    };
  }
  try {
    const parsed = environment.parse(expression);
    checkCost(parsed.ast, new Set(), false, expression);
    useFastSize(parsed.ast);
    const checked = parsed.check();
    if (!checked.valid) return { ok: false, message: describe(checked.error, expression) };
    if (checked.type !== 'bool' && checked.type !== 'dyn') {
      return {
        ok: false,
        message: `expected an expression that is true or false (this one is ${checked.type})`,
      };
    }
    return {
      ok: true,
      rule: { expression, evaluate: (variables) => parsed(variables) },
    };
  } catch (error) {
    if (error instanceof RuleError) {
      return { ok: false, message: `at ${position(expression, error.start)}: ${error.message}` };
    }
    return { ok: false, message: describe(error, expression) };
  }
}

/**
 * An evaluation error as the agent and the task's events get it: the library's code and the
 * part of the expression that failed, never its message, which may quote the arguments
 * (`No such key: <an argument's value>`, `bool() conversion error: invalid string value "…"`,
 * up to 4 MiB of it) into an event recorded even where `audit.arguments` is off.
 */
function describeFailure(error: unknown, expression: string): string {
  const e = error as { code?: unknown; range?: { start: number; end: number } };
  const code = typeof e.code === 'string' ? e.code.replaceAll('_', ' ') : 'evaluation error';
  if (!e.range) return code;
  const part = expression.slice(e.range.start, e.range.end);
  const shown = part.length > 100 ? `${part.slice(0, 100)}…` : part;
  return `at ${position(expression, e.range.start)}: ${code} (${shown})`;
}

/** What one rule says of one call. An error (missing field, wrong type, not a bool) denies. */
export type RuleVerdict = { allowed: true } | { allowed: false; error?: string };

export function evaluateArgumentRule(rule: CompiledRule, variables: RuleVariables): RuleVerdict {
  let result: unknown;
  try {
    result = rule.evaluate(variables);
  } catch (error) {
    return { allowed: false, error: describeFailure(error, rule.expression) };
  }
  if (result === true) return { allowed: true };
  if (result === false) return { allowed: false };
  return { allowed: false, error: `the expression gave ${typeof result}, not true or false` };
}
