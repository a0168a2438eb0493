/**
 * Fails when the gateway's SQL sorts or compares ids as text (issue 12). The stores return
 * bigint ids as text (`seq::text`, `id::text`, under the column's own name), and PostgreSQL
 * resolves a bare ORDER BY name to the OUTPUT column first: `select seq::text … order by seq`
 * sorts '1', '10', '11', '2', …. Likewise a CTE or subquery that selects `id::text` hands its
 * readers text to order and compare, and `max(id::text)` or `id::text > $1` compare text.
 *
 *   npx tsx scripts/check-sql-order.ts [file or folder …]   (default: gateway/src)
 *   npm run check:sql-order
 *
 * The fix it asks for: name the table's column through its alias (`order by e.seq`), or cast
 * after comparing. A statement that means to sort text can say so with the SQL comment
 * `-- check-sql-order: text order intended`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { endOf, type SqlStatement, sqlStatements } from './sql-templates.ts';

export interface Finding {
  file: string;
  line: number;
  message: string;
}

type Token = {
  kind: 'word' | 'quoted' | 'param' | 'number' | 'string' | 'op';
  text: string;
  pos: number;
};
type Group = { kind: 'group'; children: Node[]; pos: number };
type Node = Token | Group;

const OPERATORS = ['->>', '#>>', '::', '<=', '>=', '<>', '!=', '||', '->', '#>', '@>', '<@', '&&'];
const COMPARISONS = new Set(['<', '>', '<=', '>=', 'between']);
const TEXT_TYPES = new Set(['text', 'varchar', 'char', 'bpchar', 'citext', 'name', 'character']);
const TEXT_FUNCTIONS = new Set(['to_char', 'concat', 'format', 'lpad', 'rpad', 'text']);
const SELECT_END = new Set([
  ...['from', 'where', 'group', 'having', 'window', 'order', 'limit', 'offset', 'fetch'],
  ...['for', 'union', 'intersect', 'except', 'into', 'returning'],
]);
const ORDER_END = new Set(['limit', 'offset', 'fetch', 'for', 'union', 'intersect', 'except']);
/** Words that may follow a subquery's closing parenthesis without being its alias. */
const NOT_ALIASES = new Set(['on', 'join', 'cross', 'left', 'right', 'inner', 'full', 'using']);
const ALLOW = 'check-sql-order: text order intended';

function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const rest = sql.slice(i);
    if (/\s/.test(c)) i++;
    else if (rest.startsWith('--')) i = endOf(sql, '\n', i, 0);
    else if (rest.startsWith('/*')) i = endOf(sql, '*/', i, 2);
    else if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === c && sql[j + 1] !== c)) j += sql[j] === c ? 2 : 1;
      tokens.push({ kind: c === "'" ? 'string' : 'quoted', text: sql.slice(i + 1, j), pos: i });
      i = j + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      const word = /^[A-Za-z_][\w$]*/.exec(rest)![0];
      tokens.push({ kind: 'word', text: word.toLowerCase(), pos: i });
      i += word.length;
    } else if (/^\$\d/.test(rest)) {
      const param = /^\$\d+/.exec(rest)![0];
      tokens.push({ kind: 'param', text: param, pos: i });
      i += param.length;
    } else if (/\d/.test(c)) {
      const number = /^\d+(\.\d+)?/.exec(rest)![0];
      tokens.push({ kind: 'number', text: number, pos: i });
      i += number.length;
    } else {
      const op = OPERATORS.find((o) => rest.startsWith(o)) ?? c;
      tokens.push({ kind: 'op', text: op, pos: i });
      i += op.length;
    }
  }
  return tokens;
}

/** Parentheses become groups, so each query level is one list of nodes. */
function tree(tokens: Token[]): Group {
  const root: Group = { kind: 'group', children: [], pos: 0 };
  const stack = [root];
  for (const token of tokens) {
    const top = stack.at(-1)!;
    if (token.kind === 'op' && token.text === '(') {
      const group: Group = { kind: 'group', children: [], pos: token.pos };
      top.children.push(group);
      stack.push(group);
    } else if (token.kind === 'op' && token.text === ')' && stack.length > 1) stack.pop();
    else top.children.push(token);
  }
  return root;
}

const isWord = (n: Node | undefined, ...words: string[]): n is Token =>
  n !== undefined && n.kind === 'word' && (words.length === 0 || words.includes(n.text));
const isOp = (n: Node | undefined, ...ops: string[]): n is Token =>
  n !== undefined && n.kind === 'op' && ops.includes(n.text);
const isComparison = (n: Node | undefined): boolean =>
  n !== undefined && (n.kind === 'op' || n.kind === 'word') && COMPARISONS.has(n.text);
const nameOf = (n: Node | undefined): string | undefined =>
  n !== undefined && (n.kind === 'word' || n.kind === 'quoted') ? n.text : undefined;

function splitCommas(nodes: Node[]): Node[][] {
  const items: Node[][] = [[]];
  for (const n of nodes) {
    if (isOp(n, ',')) items.push([]);
    else items.at(-1)!.push(n);
  }
  return items.filter((item) => item.length > 0);
}

/** A column reference `[alias.]name` at `nodes[i]`: its name and where it ends, or undefined. */
function columnAt(
  nodes: Node[],
  i: number,
): { name: string; qualifier?: string; end: number } | undefined {
  const first = nameOf(nodes[i]);
  if (first === undefined || nodes[i + 1]?.kind === 'group') return undefined;
  const second = isOp(nodes[i + 1], '.') ? nameOf(nodes[i + 2]) : undefined;
  if (second !== undefined && nodes[i + 3]?.kind !== 'group') {
    return { name: second, qualifier: first, end: i + 3 };
  }
  return { name: first, end: i + 1 };
}

/** Whether `::` at `nodes[i]` casts to a text type, and where the type name ends. */
function textCastAt(nodes: Node[], i: number): number | undefined {
  if (!isOp(nodes[i], '::')) return undefined;
  const type = nodes[i + 1];
  if (type?.kind === 'quoted' && type.text === 'char') return i + 2;
  if (!isWord(type) || !TEXT_TYPES.has(type.text)) return undefined;
  if (nodes[i + 2]?.kind === 'group') return i + 3; // varchar(20)
  if (type.text === 'character' && isWord(nodes[i + 2], 'varying')) return i + 3;
  return i + 2;
}

interface Output {
  name: string;
  text: boolean;
  /** The expression reads a column of the same name (`seq::text`, `max(id)::text as id`). */
  shadows: boolean;
}

function words(nodes: Node[], into: Set<string> = new Set()): Set<string> {
  for (const n of nodes) {
    if (n.kind === 'group') words(n.children, into);
    else if (n.kind === 'word') into.add(n.text);
  }
  return into;
}

function isTextExpression(expr: Node[]): boolean {
  for (let i = expr.length - 1; i >= 0; i--) {
    if (isOp(expr[i], '::')) return textCastAt(expr, i) === expr.length;
  }
  const args = expr[1];
  if (isWord(expr[0], 'cast') && expr.length === 2 && args?.kind === 'group') {
    const inside = args.children;
    const as = inside.findLastIndex((n) => isWord(n, 'as'));
    return as >= 0 && isWord(inside[as + 1]) && TEXT_TYPES.has((inside[as + 1] as Token).text);
  }
  if (isWord(expr[0]) && TEXT_FUNCTIONS.has(expr[0].text) && expr[1]?.kind === 'group') return true;
  return expr.some((n) => isOp(n, '||'));
}

/** The output columns of the select and returning lists at this level. */
function outputsOf(nodes: Node[]): Output[] {
  const outputs: Output[] = [];
  for (let i = 0; i < nodes.length; i++) {
    if (!isWord(nodes[i], 'select', 'returning')) continue;
    let j = i + 1;
    if (isWord(nodes[j], 'distinct', 'all')) j++;
    if (isWord(nodes[j], 'on') && nodes[j + 1]?.kind === 'group') j += 2;
    const start = j;
    while (j < nodes.length && !isWord(nodes[j], ...SELECT_END) && !isOp(nodes[j], ';')) j++;
    for (const item of splitCommas(nodes.slice(start, j))) {
      const as = item.length > 2 && isWord(item.at(-2), 'as') ? item.length - 2 : -1;
      const expr = as >= 0 ? item.slice(0, as) : item;
      const column = columnAt(expr, 0);
      const name = as >= 0 ? nameOf(item.at(-1)) : column?.name;
      if (name === undefined) continue;
      const text = isTextExpression(expr);
      const shadows = column?.name === name || words(expr).has(name);
      outputs.push({ name, text, shadows });
    }
    i = j - 1;
  }
  return outputs;
}

interface Context {
  statement: SqlStatement;
  findings: Finding[];
}

function report(ctx: Context, pos: number, message: string): void {
  const line = ctx.statement.lines[pos] ?? ctx.statement.lines.at(-1) ?? 0;
  ctx.findings.push({ file: ctx.statement.file, line, message });
}

/** ORDER BY and DISTINCT ON items at this level, each as its nodes. */
function orderItems(nodes: Node[]): Node[][] {
  const items: Node[][] = [];
  for (let i = 0; i < nodes.length; i++) {
    if (isWord(nodes[i], 'order') && isWord(nodes[i + 1], 'by')) {
      let j = i + 2;
      const start = j;
      while (j < nodes.length && !isWord(nodes[j], ...ORDER_END) && !isOp(nodes[j], ';')) j++;
      items.push(...splitCommas(nodes.slice(start, j)));
      i = j - 1;
    } else if (isWord(nodes[i], 'distinct') && isWord(nodes[i + 1], 'on')) {
      const group = nodes[i + 2];
      if (group?.kind === 'group') items.push(...splitCommas(group.children));
    }
  }
  return items;
}

const MODIFIERS = new Set(['asc', 'desc', 'nulls', 'first', 'last']);

/** A bare name ordering at a level that outputs it as text: the bug of issue 12. */
function checkOrderBy(ctx: Context, nodes: Node[], outputs: Output[]): void {
  for (const item of orderItems(nodes)) {
    const column = columnAt(item, 0);
    if (!column || !item.slice(column.end).every((n) => isWord(n) && MODIFIERS.has(n.text))) {
      continue;
    }
    if (column.qualifier !== undefined) continue;
    const output = outputs.find((o) => o.name === column.name && o.text && o.shadows);
    if (output) {
      report(
        ctx,
        item[0]!.pos,
        `ORDER BY ${column.name} sorts the text output column "${column.name}" (selected as a ::text cast): 1, 10, 11, 2, …; order by the table's column through its alias (e.g. t.${column.name})`,
      );
    }
  }
}

/** `col::text` next to < > <= >= or BETWEEN, inside max()/min(), or as an ORDER BY item. */
function checkTextCasts(ctx: Context, nodes: Node[], orderBy: Node[][]): void {
  for (let i = 0; i < nodes.length; i++) {
    const end = textCastAt(nodes, i);
    if (end === undefined || isOp(nodes[end], '::')) continue;
    const start = isOp(nodes[i - 2], '.') ? i - 3 : i - 1;
    if (!columnAt(nodes, start) || columnAt(nodes, start)!.end !== i) continue;
    const before = nodes[start - 1];
    const after = nodes[end];
    const compared = isComparison(before) || isComparison(after);
    const ordered = orderBy.some((item) => item[0] === nodes[start]);
    if (compared || ordered) {
      report(
        ctx,
        nodes[start]!.pos,
        `${ordered ? 'orders by' : 'compares'} a column cast to text: ids compare as text (1, 10, 11, 2, …); compare the column itself and cast the result`,
      );
    }
  }
  for (let i = 0; i + 1 < nodes.length; i++) {
    const call = nodes[i];
    const args = nodes[i + 1];
    if (!isWord(call, 'max', 'min', 'greatest', 'least') || args?.kind !== 'group') continue;
    const inner = args.children;
    const column = columnAt(inner, 0);
    if (column && textCastAt(inner, column.end) === inner.length) {
      report(
        ctx,
        call.pos,
        `${call.text}() of a column cast to text picks by text order (9 > 10); cast the result instead`,
      );
    }
  }
}

/** The name a CTE (`name as (…)`) or a subquery (`(…) [as] alias`) is read by, if any. */
function derivedName(nodes: Node[], i: number): string | undefined {
  if (isWord(nodes[i - 1], 'as')) return nameOf(nodes[i - 2]);
  if (isWord(nodes[i - 1], 'materialized') && isWord(nodes[i - 2], 'as')) {
    return nameOf(nodes[i - 3]);
  }
  const alias = isWord(nodes[i + 1], 'as') ? nodes[i + 2] : nodes[i + 1];
  if (!isWord(alias) || SELECT_END.has(alias.text)) return undefined;
  return NOT_ALIASES.has(alias.text) ? undefined : alias.text;
}

/** Readers of a CTE/subquery that outputs `name` as text: ordering or comparing it sorts text. */
function checkDerived(ctx: Context, nodes: Node[], orderBy: Node[][]): void {
  for (let g = 0; g < nodes.length; g++) {
    const group = nodes[g]!;
    if (group.kind !== 'group') continue;
    const texts = outputsOf(group.children).filter((o) => o.text && o.shadows);
    const name = texts.length > 0 ? derivedName(nodes, g) : undefined;
    if (name === undefined) continue;
    const readsBare = nodes.some((n, i) => isWord(n, 'from', 'join') && isWord(nodes[i + 1], name));
    const uses = (i: number) => {
      if (isOp(nodes[i - 1], '.')) return undefined; // the name part of alias.name
      const column = columnAt(nodes, i);
      if (!column || !texts.some((o) => o.name === column.name)) return undefined;
      if (column.qualifier === name || (column.qualifier === undefined && readsBare)) return column;
      return undefined;
    };
    for (const item of orderBy) {
      const column = uses(nodes.indexOf(item[0]!));
      if (column && item[0] !== undefined) {
        report(
          ctx,
          item[0].pos,
          `ORDER BY ${column.name} sorts ${name}.${column.name}, which ${name} outputs as text (1, 10, 11, 2, …); keep the column's own type in ${name} and cast in the outer select`,
        );
      }
    }
    for (let i = 0; i < nodes.length; i++) {
      const column = uses(i);
      if (!column) continue;
      const before = nodes[i - 1];
      const after = nodes[column.end];
      if (isComparison(before) || isComparison(after)) {
        report(
          ctx,
          nodes[i]!.pos,
          `compares ${name}.${column.name}, which ${name} outputs as text (9 > 10); keep the column's own type in ${name}`,
        );
      }
    }
  }
}

function checkLevel(ctx: Context, nodes: Node[]): void {
  const orderBy = orderItems(nodes);
  checkOrderBy(ctx, nodes, outputsOf(nodes));
  checkTextCasts(ctx, nodes, orderBy);
  checkDerived(ctx, nodes, orderBy);
  for (const n of nodes) if (n.kind === 'group') checkLevel(ctx, n.children);
}

export function checkStatement(statement: SqlStatement): Finding[] {
  if (statement.text.includes(ALLOW)) return [];
  const ctx: Context = { statement, findings: [] };
  checkLevel(ctx, tree(tokenize(statement.text)).children);
  return ctx.findings;
}

/** The findings in these sources (file names are reported as given). */
export function checkSources(sources: readonly { file: string; source: string }[]): Finding[] {
  return sqlStatements(sources).flatMap(checkStatement);
}

function typescriptFiles(target: string): string[] {
  if (!statSync(target).isDirectory()) return [target];
  return readdirSync(target, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(target, entry.name);
      if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : typescriptFiles(full);
      return /\.(ts|mts)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [full] : [];
    })
    .sort();
}

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Checks files and folders (default: the gateway's sources); file names relative to the repo. */
export function checkPaths(targets: readonly string[] = [path.join(REPO_ROOT, 'gateway/src')]): {
  files: number;
  statements: number;
  findings: Finding[];
} {
  const files = targets.flatMap((t) => typescriptFiles(path.resolve(t)));
  const sources = files.map((file) => ({
    file: path.relative(REPO_ROOT, file),
    source: readFileSync(file, 'utf8'),
  }));
  const statements = sqlStatements(sources);
  return {
    files: files.length,
    statements: statements.length,
    findings: statements.flatMap(checkStatement),
  };
}

function main(argv: string[]): number {
  const { files, statements, findings } = checkPaths(argv.length > 0 ? argv : undefined);
  for (const f of findings) console.error(`${f.file}:${f.line}: ${f.message}`);
  if (findings.length > 0) {
    console.error(`check-sql-order: ${findings.length} problem(s) in ${statements} SQL statements`);
    return 1;
  }
  console.log(
    `check-sql-order: ${statements} SQL statements in ${files} files, no ids sorted or compared as text`,
  );
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
