/**
 * A unified diff of two lists of lines (tool definitions for review, tool-pinning.ts), bounded in
 * time, memory and output: a rug pull may change a 64 KB schema, so the common head and tail are
 * set aside first and the longest-common-subsequence table is built only for the middle, and
 * only while it has at most MAX_LCS_CELLS cells (2M × 4 bytes = 8 MB, ~20 ms); past that the
 * middle is shown as removed then added, still a correct diff, only a longer one.
 */
const MAX_LCS_CELLS = 2_000_000;
/** Lines of context around each change, as `diff -u`. */
const CONTEXT = 3;
/** 32 KiB of diff per tool is pages of review; more is cut with a note of how much. */
export const MAX_DIFF_CHARS = 32 * 1024;

type Op = { kind: ' ' | '-' | '+'; line: string };

function middleOps(a: string[], b: string[]): Op[] {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0 || (n + 1) * (m + 1) > MAX_LCS_CELLS) {
    return [
      ...a.map((line) => ({ kind: '-' as const, line })),
      ...b.map((line) => ({ kind: '+' as const, line })),
    ];
  }
  // lcs[i][j] = longest common subsequence of a[i..] and b[j..], one flat row-major array.
  const width = m + 1;
  const lcs = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * width + j] =
        a[i] === b[j]
          ? lcs[(i + 1) * width + j + 1]! + 1
          : Math.max(lcs[(i + 1) * width + j]!, lcs[i * width + j + 1]!);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      ops.push({ kind: ' ', line: a[i]! });
      i++;
      j++;
    } else if (lcs[(i + 1) * width + j]! >= lcs[i * width + j + 1]!) {
      ops.push({ kind: '-', line: a[i++]! });
    } else {
      ops.push({ kind: '+', line: b[j++]! });
    }
  }
  while (i < n) ops.push({ kind: '-', line: a[i++]! });
  while (j < m) ops.push({ kind: '+', line: b[j++]! });
  return ops;
}

function diffOps(a: string[], b: string[]): Op[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (
    tail < a.length - head &&
    tail < b.length - head &&
    a[a.length - 1 - tail] === b[b.length - 1 - tail]
  )
    tail++;
  return [
    ...a.slice(0, head).map((line) => ({ kind: ' ' as const, line })),
    ...middleOps(a.slice(head, a.length - tail), b.slice(head, b.length - tail)),
    ...a.slice(a.length - tail).map((line) => ({ kind: ' ' as const, line })),
  ];
}

/**
 * `--- old` / `+++ new` and `@@ -l,n +l,n @@` hunks with CONTEXT lines around each change;
 * empty when the two are equal. Cut to MAX_DIFF_CHARS with a final `… N more lines` note.
 */
export function unifiedDiff(
  oldLines: string[],
  newLines: string[],
  labels: { old: string; new: string },
): string {
  const ops = diffOps(oldLines, newLines);
  const changed = ops.map((op, index) => (op.kind === ' ' ? -1 : index)).filter((i) => i >= 0);
  if (changed.length === 0) return '';
  const out: string[] = [`--- ${labels.old}`, `+++ ${labels.new}`];
  // Hunks: runs of changes whose context windows touch.
  let k = 0;
  while (k < changed.length) {
    let start = Math.max(0, changed[k]! - CONTEXT);
    let end = Math.min(ops.length, changed[k]! + CONTEXT + 1);
    while (k + 1 < changed.length && changed[k + 1]! - CONTEXT <= end) {
      k++;
      end = Math.min(ops.length, changed[k]! + CONTEXT + 1);
    }
    k++;
    let oldStart = 1;
    let newStart = 1;
    for (let i = 0; i < start; i++) {
      if (ops[i]!.kind !== '+') oldStart++;
      if (ops[i]!.kind !== '-') newStart++;
    }
    const hunk = ops.slice(start, end);
    const oldCount = hunk.filter((op) => op.kind !== '+').length;
    const newCount = hunk.filter((op) => op.kind !== '-').length;
    out.push(
      `@@ -${oldCount === 0 ? oldStart - 1 : oldStart},${oldCount} +${newCount === 0 ? newStart - 1 : newStart},${newCount} @@`,
    );
    for (const op of hunk) out.push(`${op.kind}${op.line}`);
    start = end;
  }
  return bounded(out);
}

function bounded(lines: string[]): string {
  let chars = 0;
  for (const [index, line] of lines.entries()) {
    chars += line.length + 1;
    if (chars > MAX_DIFF_CHARS) {
      return [...lines.slice(0, index), `… ${lines.length - index} more lines`].join('\n');
    }
  }
  return lines.join('\n');
}
