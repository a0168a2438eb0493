import type { ComponentChildren } from 'preact';
import { get } from '../lib/api.ts';
import { ago, timestamp } from '../lib/format.ts';
import { useLoad } from '../lib/live.ts';
import { ErrorBox, KeyValue, Loading, Table } from './ui.tsx';
import './panels.css';

/**
 * An integration's panels (manifest `panels`, issue 16): each declared panel with one of three
 * generic views of the data its hidden tool answers (validated by the gateway against the sdk's
 * panel data schemas): a table, key-value pairs, or a time series drawn as an SVG line chart
 * with the same numbers as a table beside it. Values are shown as text, never as markup.
 */

type Cell = string | number | boolean | null;

interface PanelInfo {
  name: string;
  title: string;
  view: 'table' | 'kv' | 'timeseries';
  refreshMs: number | null;
}
interface TableData {
  columns: Array<{ key: string; title: string }>;
  rows: Array<Record<string, Cell>>;
}
interface KvData {
  items: Array<{ label: string; value: Cell }>;
}
interface Series {
  name: string;
  points: Array<[string, number]>;
}
interface TimeseriesData {
  series: Series[];
  unit?: string;
}
interface PanelAnswer {
  panel: PanelInfo;
  data: TableData | KvData | TimeseriesData;
  fetchedAt: string;
}

const path = (integration: string, panel?: string) =>
  `/integrations/${encodeURIComponent(integration)}/panels${panel ? `/${encodeURIComponent(panel)}` : ''}`;

export function IntegrationPanels(props: { name: string }) {
  const list = useLoad(() => get<{ panels: PanelInfo[] }>(path(props.name)), [props.name]);
  if (list.error) return <ErrorBox error={list.error} />;
  const panels = list.data?.panels ?? [];
  if (panels.length === 0) return null;
  return (
    <div class="panels">
      {panels.map((panel) => (
        <Panel key={panel.name} integration={props.name} panel={panel} />
      ))}
    </div>
  );
}

function Panel(props: { integration: string; panel: PanelInfo }) {
  const { integration, panel } = props;
  const loaded = useLoad(
    () => get<PanelAnswer>(path(integration, panel.name)),
    [integration, panel.name],
    panel.refreshMs ?? 0,
  );
  const id = `panel-${integration}-${panel.name}`;
  const answer = loaded.data;
  return (
    <section class="card panel" aria-labelledby={id} data-panel={panel.name}>
      <header class="panel-head">
        <h2 id={id}>{panel.title}</h2>
        <span class="panel-meta">
          <Loading loading={loaded.loading && !answer} />
          {answer && (
            <time dateTime={answer.fetchedAt} title={timestamp(answer.fetchedAt)}>
              updated {ago(answer.fetchedAt)}
            </time>
          )}
          <button
            type="button"
            class="link"
            onClick={loaded.reload}
            aria-label={`Reload ${panel.title}`}
          >
            Reload
          </button>
        </span>
      </header>
      <ErrorBox error={loaded.error} />
      {answer && <PanelView title={panel.title} view={panel.view} data={answer.data} />}
    </section>
  );
}

function PanelView(props: { title: string; view: PanelInfo['view']; data: PanelAnswer['data'] }) {
  if (props.view === 'table')
    return <TableView title={props.title} data={props.data as TableData} />;
  if (props.view === 'kv') {
    const { items } = props.data as KvData;
    if (items.length === 0) return <p class="empty">Nothing to show.</p>;
    return (
      <KeyValue label={props.title} rows={items.map((i) => [i.label, <Value value={i.value} />])} />
    );
  }
  return <TimeseriesView title={props.title} data={props.data as TimeseriesData} />;
}

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/;

/** ISO times are shown like the rest of the console; http(s) URLs become links (never javascript: or data:); everything else is plain text. */
function Value(props: { value: Cell }): ComponentChildren {
  const { value } = props;
  if (value === null) return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'number') return value.toLocaleString();
  if (ISO_TIME.test(value)) return <time dateTime={value}>{timestamp(value)}</time>;
  if (/^https?:\/\/[^\s]+$/.test(value)) {
    return (
      <a class="panel-link" href={value} target="_blank" rel="noopener noreferrer">
        {value.replace(/^https?:\/\//, '')}
      </a>
    );
  }
  return value;
}

function TableView(props: { title: string; data: TableData }) {
  const rows = props.data.rows.map((row, index) => ({ row, index }));
  return (
    <Table
      label={props.title}
      rows={rows}
      rowKey={(r) => String(r.index)}
      empty="Nothing to show."
      columns={props.data.columns.map((c) => ({
        title: c.title,
        cell: (r: { row: Record<string, Cell> }) => <Value value={r.row[c.key] ?? null} />,
      }))}
    />
  );
}

const WIDTH = 640;
const HEIGHT = 220;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };
/** At most this many series get their own colour class (the sdk allows 10). */
const COLOURS = 10;

function compact(n: number): string {
  return Math.abs(n) >= 1000
    ? n.toLocaleString(undefined, { notation: 'compact' })
    : String(+n.toFixed(2));
}

function TimeseriesView(props: { title: string; data: TimeseriesData }) {
  const { series, unit } = props.data;
  const all = series.flatMap((s) => s.points.map(([t, v]) => [Date.parse(t), v] as const));
  if (all.length === 0) return <p class="empty">No data points.</p>;
  const times = all.map(([t]) => t);
  const values = all.map(([, v]) => v);
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const low = Math.min(0, ...values);
  const high = Math.max(...values);
  const span = t1 - t0 || 1;
  const range = high - low || 1;
  const x = (t: number) => PAD.left + ((t - t0) / span) * (WIDTH - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - (v - low) / range) * (HEIGHT - PAD.top - PAD.bottom);
  const description = `${props.title}: ${series.length} series (${series.map((s) => s.name).join(', ')}) from ${timestamp(new Date(t0))} to ${timestamp(new Date(t1))}, values ${compact(low)} to ${compact(high)}${unit ? ` ${unit}` : ''}.`;
  const stamps = [...new Set(series.flatMap((s) => s.points.map(([t]) => t)))].sort(
    (a, b) => Date.parse(a) - Date.parse(b),
  );
  return (
    <figure class="timeseries">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={description}>
        <title>{description}</title>
        <line class="axis" x1={PAD.left} y1={y(low)} x2={WIDTH - PAD.right} y2={y(low)} />
        <line class="axis" x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={HEIGHT - PAD.bottom} />
        <text class="tick" x={PAD.left - 6} y={PAD.top + 4} text-anchor="end">
          {compact(high)}
        </text>
        <text class="tick" x={PAD.left - 6} y={HEIGHT - PAD.bottom} text-anchor="end">
          {compact(low)}
        </text>
        <text class="tick" x={PAD.left} y={HEIGHT - 8}>
          {timestamp(new Date(t0))}
        </text>
        <text class="tick" x={WIDTH - PAD.right} y={HEIGHT - 8} text-anchor="end">
          {timestamp(new Date(t1))}
        </text>
        {series.map((s, i) => (
          <polyline
            key={s.name}
            class={`line c${i % COLOURS}`}
            fill="none"
            points={[...s.points]
              .sort((a, b) => Date.parse(a[0]) - Date.parse(b[0]))
              .map(([t, v]) => `${x(Date.parse(t)).toFixed(1)},${y(v).toFixed(1)}`)
              .join(' ')}
          />
        ))}
      </svg>
      <figcaption>
        <ul class="legend" aria-label={`${props.title}: series`}>
          {series.map((s, i) => (
            <li key={s.name}>
              <span class={`swatch c${i % COLOURS}`} aria-hidden="true" />
              {s.name}
            </li>
          ))}
          {unit && <li class="unit">({unit})</li>}
        </ul>
        <details>
          <summary>Show the data as a table</summary>
          <div class="table-wrap">
            <table aria-label={`${props.title}: data`}>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  {series.map((s) => (
                    <th key={s.name} scope="col">
                      {s.name}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {stamps.map((t) => (
                  <tr key={t}>
                    <td>{timestamp(t)}</td>
                    {series.map((s) => {
                      const point = s.points.find(([at]) => at === t);
                      return <td key={s.name}>{point ? point[1].toLocaleString() : '—'}</td>;
                    })}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </details>
      </figcaption>
    </figure>
  );
}
