import { setFlagsFromString } from 'node:v8';
import { z } from 'zod';

/**
 * How far V8 lets the old generation grow past the live heap before its next full collection
 * (issue 20). V8 picks the factor itself, up to 4× when the heap may grow large, and on a machine
 * with 24 GiB it may: a gateway on PostgreSQL whose live heap stayed near 60 MB held 341 MB
 * resident after 10,000 tool calls and 1,000 task tokens, most of it old space waiting for a
 * collection. With the factor pinned at 1.5 the same run ended at 186 MB, and the embedded
 * database's at 322 MB instead of 441 MB (test/bench/RESULTS.md). A full collection of a ~60 MB
 * heap then comes every ~30 MB promoted (~4,000 calls), marked concurrently: no measurable cost
 * per call. The heap still grows as far as the live data needs: this is a ratio, not a cap.
 *
 * `--heap-growing-percent` is not allowed in NODE_OPTIONS, and V8 reads it each time it sets the
 * next limit, so the gateway sets it on itself at start. 0 leaves V8's own heuristics.
 */
export const heapGrowthEnv = {
  SWITCHBOARD_HEAP_GROWTH_PERCENT: z
    .string()
    .regex(/^\d{1,6}$/, 'expected a whole number of percent, 0 (V8 decides) to 300')
    .transform(Number)
    .pipe(z.number().max(300, "expected at most 300 (a factor of 4, V8's own largest)"))
    .default(50),
};

/** Pins the old generation's growth factor at 1 + percent/100; 0 leaves V8's. */
export function applyHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
