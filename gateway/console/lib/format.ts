/** Times and durations as an operator reads them. */

export function ago(value: string | Date | null | undefined): string {
  if (!value) return '—';
  const ms = Date.now() - new Date(value).getTime();
  const future = ms < 0;
  const s = Math.abs(ms) / 1000;
  const text =
    s < 60
      ? `${Math.round(s)} s`
      : s < 3600
        ? `${Math.round(s / 60)} min`
        : s < 86_400
          ? `${Math.round(s / 3600)} h`
          : `${Math.round(s / 86_400)} d`;
  return future ? `in ${text}` : `${text} ago`;
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function timestamp(value: string | Date | null | undefined): string {
  if (!value) return '—';
  return new Date(value)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** A byte count in binary units: 512 B, 1.5 KiB, 12.0 MiB (one decimal past bytes). */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  if (Math.abs(n) < 1024) return `${n} B`;
  let value = n / 1024;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** A datetime-local input's value (the browser's local time) as the API's ISO time with offset. */
export function localToIso(local: string): string | undefined {
  return local ? new Date(local).toISOString() : undefined;
}

/** An ISO time as a datetime-local input's value (the browser's local time, to the minute). */
export function isoToLocal(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
