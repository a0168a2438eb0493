import { z } from 'zod';

/**
 * Integration panels (manifest `panels`): small read-only views the operator console shows on an
 * integration's page. Each panel names a hidden tool of the integration; the gateway calls it
 * with `{panel}` and shows its structuredContent with one of three generic views. This file is
 * the contract of that answer per view: strict and bounded, because the gateway passes nothing
 * else on to the browser.
 */

export const PANEL_VIEWS = ['table', 'kv', 'timeseries'] as const;
export type PanelView = (typeof PANEL_VIEWS)[number];

/** Bounds of one panel's data; an answer over any of them is refused whole, never cut. */
export const PANEL_LIMITS = {
  /** Rows of a table. */
  rows: 200,
  /** Columns of a table. */
  columns: 20,
  /** Items of a key-value view. */
  items: 50,
  /** Series of a time series. */
  series: 10,
  /** Points of one series. */
  points: 500,
  /** Characters of one label, title or key. */
  label: 200,
  /** Characters of one cell or value. */
  value: 1_000,
  /** The answer as JSON, in bytes (checked before the shape). */
  bytes: 256 * 1024,
} as const;

/** `30s`, `5m`, `1h`: how often the console reloads a panel (10 s to 24 h). */
export const PANEL_REFRESH = /^[1-9][0-9]{0,4}[smh]$/;
const MIN_REFRESH_MS = 10_000;
const MAX_REFRESH_MS = 24 * 3_600_000;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** Milliseconds of a `refresh` value, or undefined when it is not one from 10 s to 24 h. */
export function panelRefreshMs(text: string): number | undefined {
  if (!PANEL_REFRESH.test(text)) return undefined;
  const ms = Number(text.slice(0, -1)) * UNIT_MS[text.at(-1) as keyof typeof UNIT_MS];
  return ms >= MIN_REFRESH_MS && ms <= MAX_REFRESH_MS ? ms : undefined;
}

const label = z
  .string({ error: 'expected a string' })
  .min(1, 'expected a non-empty string')
  .max(PANEL_LIMITS.label, `expected at most ${PANEL_LIMITS.label} characters`);
const shortText = z
  .string({ error: 'expected a string' })
  .max(PANEL_LIMITS.value, `expected at most ${PANEL_LIMITS.value} characters`);
/** A cell or value: text, a finite number, true/false or null (shown empty). */
const cell = z.union([shortText, z.number().finite(), z.boolean(), z.null()], {
  error: `expected a string of at most ${PANEL_LIMITS.value} characters, a number, true, false or null`,
});
/** Column keys and row fields: plain names, so a row cannot carry `__proto__` and the like. */
const COLUMN_KEY = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const columnKey = z
  .string({ error: 'expected a column key' })
  .regex(COLUMN_KEY, 'expected a column key: a letter, then letters, digits or _ (≤ 64)');

export const tablePanelDataSchema = z
  .strictObject({
    columns: z
      .array(z.strictObject({ key: columnKey, title: label }), {
        error: 'expected a list of columns',
      })
      .min(1, 'expected at least one column')
      .max(PANEL_LIMITS.columns, `expected at most ${PANEL_LIMITS.columns} columns`),
    rows: z
      .array(z.record(columnKey, cell, { error: 'expected a row: an object of column keys' }), {
        error: 'expected a list of rows',
      })
      .max(PANEL_LIMITS.rows, `expected at most ${PANEL_LIMITS.rows} rows`),
  })
  .superRefine((data, ctx) => {
    const keys = new Set<string>();
    for (const [i, column] of data.columns.entries()) {
      if (keys.has(column.key))
        ctx.addIssue({ code: 'custom', path: ['columns', i, 'key'], message: 'duplicate key' });
      keys.add(column.key);
    }
    for (const [i, row] of data.rows.entries()) {
      for (const key of Object.keys(row)) {
        if (!keys.has(key))
          ctx.addIssue({
            code: 'custom',
            path: ['rows', i, key],
            message: 'expected only keys of declared columns',
          });
      }
    }
  });
export type TablePanelData = z.output<typeof tablePanelDataSchema>;

export const kvPanelDataSchema = z.strictObject({
  items: z
    .array(z.strictObject({ label, value: cell }), { error: 'expected a list of items' })
    .max(PANEL_LIMITS.items, `expected at most ${PANEL_LIMITS.items} items`),
});
export type KvPanelData = z.output<typeof kvPanelDataSchema>;

const point = z.tuple(
  [
    z.iso.datetime({ offset: true, error: 'expected an ISO 8601 time' }),
    z.number({ error: 'expected a finite number' }).finite('expected a finite number'),
  ],
  { error: 'expected a point: [ISO 8601 time, number]' },
);

export const timeseriesPanelDataSchema = z.strictObject({
  series: z
    .array(
      z.strictObject({
        name: label,
        points: z
          .array(point, { error: 'expected a list of points' })
          .max(PANEL_LIMITS.points, `expected at most ${PANEL_LIMITS.points} points`),
      }),
      { error: 'expected a list of series' },
    )
    .max(PANEL_LIMITS.series, `expected at most ${PANEL_LIMITS.series} series`),
  /** What the numbers count, e.g. `deliveries`; shown on the chart's axis. */
  unit: label.optional(),
});
export type TimeseriesPanelData = z.output<typeof timeseriesPanelDataSchema>;

export const PANEL_DATA_SCHEMAS = {
  table: tablePanelDataSchema,
  kv: kvPanelDataSchema,
  timeseries: timeseriesPanelDataSchema,
} as const;

export type PanelData =
  | { view: 'table'; data: TablePanelData }
  | { view: 'kv'; data: KvPanelData }
  | { view: 'timeseries'; data: TimeseriesPanelData };

/** What the gateway passes the panel's tool: the panel's name (one tool may serve several). */
export const panelInputSchema = z.object({ panel: z.string() });
export type PanelInput = z.output<typeof panelInputSchema>;
