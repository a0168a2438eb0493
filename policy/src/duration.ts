import { z } from 'zod';

/**
 * Durations as operators write them: `30s`, `15m`, `2h`, `1h30m`. Units are fixed to h, m, s
 * in that order so `1m30h` or a bare `90` (seconds? minutes?) cannot be misread.
 */
const DURATION = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

export const DURATION_EXPECTED = 'a duration such as 30s, 15m, 2h or 1h30m';

/** Milliseconds, or undefined when `text` is not a positive duration. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (!match || text === '') return undefined;
  const [, hours = '0', minutes = '0', seconds = '0'] = match;
  const ms = ((Number(hours) * 60 + Number(minutes)) * 60 + Number(seconds)) * 1000;
  return ms > 0 ? ms : undefined;
}

/** 900000 → `15m`, 5400000 → `1h30m`: the form errors and listings show. */
export function formatDuration(ms: number): string {
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const out = `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
  return out || '0s';
}

/**
 * How long rows are kept (the policy's `retention:`): days as well, since ages run to weeks
 * (`30d`, `90d`, `1d12h`). Days count only here: a task timeout or token lifetime in days is
 * a mistake, and `parseDuration` keeps refusing it.
 */
const AGE = /^(?:(\d+)d)?((?:\d+h)?(?:\d+m)?(?:\d+s)?)$/;

export const AGE_EXPECTED = 'an age such as 30d, 90d, 12h or 1d12h, or off';

/** Milliseconds, or undefined when `text` is not a positive age. */
export function parseAge(text: string): number | undefined {
  const match = AGE.exec(text);
  if (!match || text === '') return undefined;
  const [, days = '0', rest = ''] = match;
  const restMs = rest === '' ? 0 : parseDuration(rest);
  if (restMs === undefined) return undefined;
  const ms = Number(days) * 86_400_000 + restMs;
  return ms > 0 ? ms : undefined;
}

/** 2592000000 → `30d`, 129600000 → `1d12h`. */
export function formatAge(ms: number): string {
  const days = Math.floor(ms / 86_400_000);
  const rest = ms - days * 86_400_000;
  if (days === 0) return formatDuration(ms);
  return rest === 0 ? `${days}d` : `${days}d${formatDuration(rest)}`;
}

/** A duration in a policy file, milliseconds once parsed (the one zod schema for it). */
export const durationSchema = z
  .string({ error: `expected ${DURATION_EXPECTED}` })
  .transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected ${DURATION_EXPECTED}` });
      return z.NEVER;
    }
    return ms;
  });
