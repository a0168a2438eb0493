import type { z } from 'zod';

/**
 * One problem in a YAML file we validate (a manifest, and the operator policy too). Every
 * problem says which file, where inside it and what was found versus what was expected, so an
 * integration author can fix it without reading our source:
 *
 *   servers/github/switchboard.yaml: webhooks[1].verify.scheme: found "hmac", expected one of standard, github, slack, none
 */
export interface ManifestError {
  file: string;
  /** Where inside the file, e.g. `webhooks[1].verify.scheme`; '' for the file as a whole. */
  path: string;
  /** Reads on its own without the path: `found "hmac", expected one of …` or `missing, expected …`. */
  message: string;
  /** What the file held there, described (`"hmac"`, `42`, `a list`); absent when nothing was. */
  found?: string;
  /** What would have been accepted. */
  expected?: string;
}

/** One line per error, `file: path: message` (`file: message` for whole-file problems). */
export function formatManifestErrors(errors: readonly ManifestError[]): string {
  return errors
    .map((e) => (e.path ? `${e.file}: ${e.path}: ${e.message}` : `${e.file}: ${e.message}`))
    .join('\n');
}

/** An error from its parts: `found X, expected Y`, or `missing, expected Y` when nothing was there. */
export function problem(
  file: string,
  path: string,
  found: string | undefined,
  expected: string,
): ManifestError {
  const message =
    found === undefined ? `missing, expected ${expected}` : `found ${found}, expected ${expected}`;
  return found === undefined
    ? { file, path, message, expected }
    : { file, path, message, found, expected };
}

/** `["webhooks", 1, "verify"]` → `webhooks[1].verify`; odd keys are quoted: `settings["a b"]`. */
export function formatPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(String(segment)))
      out += out === '' ? String(segment) : `.${String(segment)}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

// Long values are cut so one bad field cannot flood a terminal; 60 characters keep a URL readable.
const MAX_SHOWN = 60;

/** A value as an error message shows it: `"hmac"`, `42`, `true`, `a list`, `a mapping`. */
export function describeFound(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (value === null) return 'an empty value';
  if (typeof value === 'string') {
    const shown = value.length > MAX_SHOWN ? `${value.slice(0, MAX_SHOWN)}…` : value;
    return JSON.stringify(shown);
  }
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

/** The raw value at a zod path, to say what was found. */
function valueAt(input: unknown, segments: readonly PropertyKey[]): unknown {
  let current: unknown = input;
  for (const segment of segments) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

type Issue = z.ZodError['issues'][number];

const FLOW_COMMA_HINT =
  ' (inside { … } a comma ends a value: quote text that contains commas, e.g. description: "a, b")';

/** Messages we write into schemas start with "expected "; zod's own defaults never do. */
const OURS = 'expected ';

function listOf(values: readonly unknown[]): string {
  const shown = values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
  return shown.length === 1 ? JSON.stringify(values[0]) : `one of ${shown.join(', ')}`;
}

function expectedOf(issue: Issue): string {
  if (issue.message.startsWith(OURS)) return issue.message.slice(OURS.length);
  switch (issue.code) {
    case 'invalid_type':
      return TYPE_NAMES[issue.expected] ?? issue.expected;
    case 'invalid_value':
      return listOf(issue.values);
    case 'invalid_union': {
      const options = (issue as { options?: unknown[] }).options;
      return options ? listOf(options) : 'a valid value';
    }
    case 'too_small':
      return issue.origin === 'array'
        ? `at least ${issue.minimum} item${Number(issue.minimum) === 1 ? '' : 's'}`
        : issue.origin === 'string'
          ? `at least ${issue.minimum} character${Number(issue.minimum) === 1 ? '' : 's'}`
          : `a number ${issue.inclusive ? '≥' : '>'} ${issue.minimum}`;
    case 'too_big':
      return issue.origin === 'array'
        ? `at most ${issue.maximum} items`
        : issue.origin === 'string'
          ? `at most ${issue.maximum} characters`
          : `a number ${issue.inclusive ? '≤' : '<'} ${issue.maximum}`;
    case 'invalid_format':
      return issue.format === 'regex' && issue.pattern
        ? `a string matching ${issue.pattern}`
        : `a valid ${issue.format}`;
    default:
      return issue.message;
  }
}

/**
 * zod issues as ManifestErrors. `input` is the raw parsed YAML, so each error can say what the
 * file actually held at that path. One unknown-keys issue becomes one error per unknown key,
 * each pointing at the key itself.
 */
export function errorsFromZod(error: z.ZodError, input: unknown, file: string): ManifestError[] {
  const errors: ManifestError[] = [];
  for (const issue of error.issues) {
    const expected = expectedOf(issue);
    if (issue.code === 'unrecognized_keys') {
      const shownExpected = issue.message.startsWith(OURS) ? expected : 'no other keys';
      const object = valueAt(input, issue.path) as Record<string, unknown> | undefined;
      for (const key of issue.keys) {
        // `{ description: a, b }` is YAML for { description: "a", "b": null }: say so.
        const split = object?.[key] === null ? FLOW_COMMA_HINT : '';
        errors.push(
          problem(
            file,
            formatPath([...issue.path, key]),
            `unknown key ${JSON.stringify(key)}`,
            `${shownExpected}${split}`,
          ),
        );
      }
      continue;
    }
    if (issue.code === 'invalid_key') {
      const key = issue.path[issue.path.length - 1];
      const inner = issue.issues[0];
      const innerExpected = inner?.message.startsWith(OURS)
        ? inner.message.slice(OURS.length)
        : 'a valid key';
      errors.push(
        problem(file, formatPath(issue.path), `key ${JSON.stringify(String(key))}`, innerExpected),
      );
      continue;
    }
    const params = (issue as { params?: { found?: string } }).params;
    const found = params?.found ?? describeFound(valueAt(input, issue.path));
    errors.push(problem(file, formatPath(issue.path), found, expected));
  }
  return errors;
}
