/**
 * The metric names a PromQL expression reads, by a small tokenizer (not a parser): strings,
 * label matchers `{…}`, ranges `[…]`, Grafana variables (`$__rate_interval`, `${x}`) and the
 * label lists of `by`/`without`/`on`/`ignoring`/`group_left`/`group_right` are removed; of the
 * identifiers left, those followed by `(` are functions or aggregations, and the keywords and
 * aggregation operators are dropped. A histogram's `_bucket`/`_sum`/`_count` series are named
 * by their family.
 */
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'offset',
  'bool',
  'inf',
  'nan',
  // Aggregation operators, which may come before their `by (…)` rather than a `(`.
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);

export function promqlMetricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' $1 ');
  const names = new Set<string>();
  const token = /[A-Za-z_:][\w:]*|\d[\w.]*/g;
  for (let match = token.exec(stripped); match; match = token.exec(stripped)) {
    const word = match[0];
    if (/^\d/.test(word) || KEYWORDS.has(word.toLowerCase())) continue;
    const rest = stripped.slice(match.index + word.length);
    if (/^\s*\(/.test(rest)) continue;
    names.add(word.replace(/_(bucket|sum|count)$/, ''));
  }
  return [...names];
}
