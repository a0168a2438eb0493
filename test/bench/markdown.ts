/** The benchmarks' reports are Markdown: a table is its header, its rule, then a line a row. */

/** The header line and the rule under it. */
export function tableHead(...columns: string[]): string[] {
  return [tableRow(...columns), `|${columns.map(() => '---').join('|')}|`];
}

export function tableRow(...cells: Array<string | number>): string {
  return `| ${cells.join(' | ')} |`;
}
