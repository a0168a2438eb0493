/**
 * Byte sizes as operators write them: `512KB`, `50MB`, `1GB` (powers of 1000, as disks and
 * network meters count) or `64KiB`, `50MiB`, `1GiB` (powers of 1024, as the gateway's own
 * bounds are stated), or a whole number of bytes. A unit is required on a string, so `50M`
 * (mega? mebi?) is an error rather than a guess.
 */
const SIZE = /^(\d{1,15})(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/;

const UNITS: Record<string, number> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
};

export const SIZE_EXPECTED =
  'a size such as 512KB, 50MB, 1GB (or 64KiB, 50MiB, 1GiB), or a whole number of bytes';

/** Bytes (a safe integer ≥ 0), or undefined when `value` is not a size. */
export function parseSize(value: string | number): number | undefined {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  }
  const match = SIZE.exec(value);
  if (!match) return undefined;
  const bytes = Number(match[1]) * (UNITS[match[2] as string] as number);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** 50000000 → `50MB`, 52428800 → `50MiB`, 1234 → `1234B`: the form errors and listings show. */
export function formatSize(bytes: number): string {
  for (const unit of ['TB', 'TiB', 'GB', 'GiB', 'MB', 'MiB', 'KB', 'KiB']) {
    const size = UNITS[unit] as number;
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}
