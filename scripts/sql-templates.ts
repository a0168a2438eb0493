/**
 * The SQL of TypeScript sources: every tagged template literal (`sql\`…\``, `sql<Row[]>\`…\``,
 * `tx\`…\``), with the fragments it interpolates from functions such as
 * `const columns = (sql: Sql) => sql\`id::text, …\`` written in place, so that a statement reads
 * as PostgreSQL will see it. Other interpolations become parameters ($1, $2, …). Used by
 * scripts/check-sql-order.ts; a small lexer, not a TypeScript parser (no dependency: the
 * compiler in node_modules is the native TypeScript 7, which has no JavaScript API).
 */

export interface TemplateLiteral {
  /** The identifier before the backtick (the last of `a.b`), or null for an untagged one. */
  tag: string | null;
  /** The name of a fragment function whose body this template is (`const NAME = (sql…) => sql\``). */
  fragmentName: string | null;
  /** The static parts; parts[i] comes before expressions[i]. */
  parts: { text: string; offset: number }[];
  expressions: { text: string; offset: number }[];
  offset: number;
}

/** One statement with its fragments inlined: `lines[i]` is the source line of `text[i]`. */
export interface SqlStatement {
  file: string;
  text: string;
  lines: number[];
}

const KEYWORDS_BEFORE_EXPRESSION = new Set([
  'return',
  'typeof',
  'await',
  'yield',
  'case',
  'in',
  'of',
  'else',
  'new',
  'void',
  'delete',
  'throw',
]);

const isIdentChar = (c: string | undefined) => c !== undefined && /[A-Za-z0-9_$]/.test(c);

/** The offset of `marker` from `from` plus `skip`, or the end of `source` without one. */
export function endOf(source: string, marker: string, from: number, skip: number): number {
  const at = source.indexOf(marker, from);
  return at < 0 ? source.length : at + skip;
}

/** Offset after the string literal that starts at `i` (a ' or " quote). */
function skipString(source: string, i: number): number {
  const quote = source[i];
  let j = i + 1;
  while (j < source.length && source[j] !== quote) j += source[j] === '\\' ? 2 : 1;
  return j + 1;
}

/** Offset after the regular expression literal that starts at `i` (a /). */
function skipRegex(source: string, i: number): number {
  let j = i + 1;
  let inClass = false;
  while (j < source.length) {
    const c = source[j];
    if (c === '\n') return j; // not a regex after all: go on from the line break
    if (c === '/' && !inClass) break;
    if (c === '[') inClass = true;
    else if (c === ']') inClass = false;
    j += c === '\\' ? 2 : 1;
  }
  j++;
  while (isIdentChar(source[j])) j++;
  return j;
}

/** Whether a / at `i` starts a regex (after an operator or keyword) rather than dividing. */
function startsRegex(source: string, i: number): boolean {
  let j = i - 1;
  while (j >= 0 && /\s/.test(source[j]!)) j--;
  if (j < 0) return true;
  if ('(,=:[!&|?{};+-*%<>~^'.includes(source[j]!)) return true;
  let k = j;
  while (k >= 0 && isIdentChar(source[k])) k--;
  return KEYWORDS_BEFORE_EXPRESSION.has(source.slice(k + 1, j + 1));
}

/** The tag of a template whose backtick is at `i`: identifier, optionally with `<…>` type args. */
function tagBefore(source: string, i: number): { tag: string | null; start: number } {
  let j = i - 1;
  while (j >= 0 && /\s/.test(source[j]!)) j--;
  if (source[j] === '>') {
    let depth = 0;
    for (; j >= 0; j--) {
      if (source[j] === '>') depth++;
      else if (source[j] === '<' && --depth === 0) break;
    }
    j--;
    while (j >= 0 && /\s/.test(source[j]!)) j--;
  }
  const end = j + 1;
  while (j >= 0 && isIdentChar(source[j])) j--;
  const tag = source.slice(j + 1, end);
  if (tag === '' || /^[0-9]/.test(tag) || KEYWORDS_BEFORE_EXPRESSION.has(tag)) {
    return { tag: null, start: i };
  }
  return { tag, start: j + 1 };
}

const FRAGMENT_DEFINITION =
  /(?:const|let)\s+([A-Za-z_$][\w$]*)\s*=\s*\([^)]*\)\s*(?::[^=]*)?=>\s*$/;

/**
 * Every template literal of `source`, nested ones (inside `${…}`) included, in order of their
 * backticks. Comments, strings and regular expressions are skipped.
 */
export function templateLiterals(source: string): TemplateLiteral[] {
  const found: TemplateLiteral[] = [];

  // Scans code from `i`; with `inExpression`, stops at the `}` that closes a `${`.
  const code = (start: number, inExpression: boolean): number => {
    let depth = 0;
    let i = start;
    while (i < source.length) {
      const c = source[i]!;
      const next = source[i + 1];
      if (c === '/' && next === '/') i = endOf(source, '\n', i, 0);
      else if (c === '/' && next === '*') i = endOf(source, '*/', i + 2, 2);
      else if (c === "'" || c === '"') i = skipString(source, i);
      else if (c === '/' && startsRegex(source, i)) i = skipRegex(source, i);
      else if (c === '`') i = template(i);
      else if (c === '}' && inExpression && depth === 0) return i;
      else {
        if (c === '{') depth++;
        else if (c === '}') depth--;
        i++;
      }
    }
    return i;
  };

  // Reads the template whose backtick is at `at`; returns the offset after its closing backtick.
  const template = (at: number): number => {
    const { tag, start } = tagBefore(source, at);
    const definition =
      tag === null ? null : FRAGMENT_DEFINITION.exec(source.slice(Math.max(0, start - 300), start));
    const literal: TemplateLiteral = {
      tag,
      fragmentName: definition?.[1] ?? null,
      parts: [],
      expressions: [],
      offset: at,
    };
    found.push(literal);
    let partStart = at + 1;
    let i = at + 1;
    while (i < source.length) {
      const c = source[i];
      if (c === '\\') i += 2;
      else if (c === '`') {
        literal.parts.push({ text: source.slice(partStart, i), offset: partStart });
        return i + 1;
      } else if (c === '$' && source[i + 1] === '{') {
        literal.parts.push({ text: source.slice(partStart, i), offset: partStart });
        const end = code(i + 2, true);
        literal.expressions.push({ text: source.slice(i + 2, end), offset: i + 2 });
        partStart = end + 1;
        i = end + 1;
      } else i++;
    }
    literal.parts.push({ text: source.slice(partStart), offset: partStart });
    return source.length;
  };

  code(0, false);
  return found.sort((a, b) => a.offset - b.offset);
}

/** `columns(sql)`, `fanOut(sql, 'x')`: a call whose first argument is the sql tag. */
const FRAGMENT_CALL = /^\s*([A-Za-z_$][\w$]*)\s*\(\s*[A-Za-z_$][\w$]*\s*(?:,[\s\S]*)?\)\s*$/;

export interface SqlSource {
  file: string;
  source: string;
}

/**
 * The SQL statements of `sources`: each tagged template that reads as SQL, with fragment calls
 * inlined (fragments are looked up in the same file first, then by name in the others).
 */
export function sqlStatements(sources: readonly SqlSource[]): SqlStatement[] {
  const perFile = sources.map((s) => ({ ...s, literals: templateLiterals(s.source) }));
  const lineStarts = new Map<string, number[]>();
  for (const { file, source } of sources) {
    const starts = [0];
    for (let i = 0; i < source.length; i++) if (source[i] === '\n') starts.push(i + 1);
    lineStarts.set(file, starts);
  }
  const lineOf = (file: string, offset: number): number => {
    const starts = lineStarts.get(file)!;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const fragments = new Map<string, { file: string; literal: TemplateLiteral }>();
  const local = new Map<string, Map<string, TemplateLiteral>>();
  for (const { file, literals } of perFile) {
    const mine = new Map<string, TemplateLiteral>();
    for (const literal of literals) {
      if (literal.tag === null || literal.fragmentName === null) continue;
      mine.set(literal.fragmentName, literal);
      if (!fragments.has(literal.fragmentName))
        fragments.set(literal.fragmentName, { file, literal });
    }
    local.set(file, mine);
  }

  const expand = (file: string, literal: TemplateLiteral, depth: number, params: { n: number }) => {
    let text = '';
    const lines: number[] = [];
    const add = (chunk: string, chunkLines: number[] | number) => {
      text += chunk;
      for (let i = 0; i < chunk.length; i++) {
        lines.push(typeof chunkLines === 'number' ? chunkLines : chunkLines[i]!);
      }
    };
    literal.parts.forEach((part, i) => {
      for (let k = 0; k < part.text.length; k++) add(part.text[k]!, lineOf(file, part.offset + k));
      const expression = literal.expressions[i];
      if (!expression) return;
      const call = FRAGMENT_CALL.exec(expression.text);
      const name = call?.[1];
      const inFile = name === undefined ? undefined : local.get(file)?.get(name);
      const fragment = inFile
        ? { file, literal: inFile }
        : name === undefined
          ? undefined
          : fragments.get(name);
      const line = lineOf(file, expression.offset);
      if (fragment && depth < 5) {
        const inner = expand(fragment.file, fragment.literal, depth + 1, params);
        // Lines of another file mean nothing here: report the interpolation's line instead.
        add(` ${inner.text} `, fragment.file === file ? [line, ...inner.lines, line] : line);
      } else {
        add(`$${++params.n}`, line);
      }
    });
    return { text, lines };
  };

  const statements: SqlStatement[] = [];
  for (const { file, literals } of perFile) {
    for (const literal of literals) {
      if (literal.tag === null) continue;
      const { text, lines } = expand(file, literal, 0, { n: 0 });
      if (!/\b(select|insert|update|delete|returning)\b/i.test(text)) continue;
      statements.push({ file, text, lines });
    }
  }
  return statements;
}
