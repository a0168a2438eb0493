/**
 * The shape of a cron expression, checked before the gateway hands it to node-schedule so a
 * typo is a manifest error with a path rather than a schedule that silently never fires.
 * 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), as node-schedule
 * reads them. Each field is a comma list of `*`, `n`, `a-b`, optionally `/step`; months and
 * weekdays also take names (JAN, MON); day-of-month and day-of-week also take `?`.
 */

interface Field {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  question?: boolean;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

const SECOND: Field = { name: 'second', min: 0, max: 59 };
const FIVE: readonly Field[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31, question: true },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  // 0 and 7 are both Sunday, as in Vixie cron and node-schedule.
  { name: 'day of week', min: 0, max: 7, names: DAYS, question: true },
];

const ITEM = /^(\*|\?|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:\/(\d+))?$/;

/** A number or a name (MONTHS are 1-based, DAYS 0-based) → its value, or undefined. */
function tokenValue(token: string, field: Field): number | undefined {
  if (/^\d+$/.test(token)) {
    const n = Number(token);
    return n >= field.min && n <= field.max ? n : undefined;
  }
  const index = field.names?.indexOf(token.toUpperCase()) ?? -1;
  if (index < 0) return undefined;
  return field.names === MONTHS ? index + 1 : index;
}

function itemIsValid(item: string, field: Field): boolean {
  const match = ITEM.exec(item);
  if (!match) return false;
  const [, base = '', step] = match;
  if (step !== undefined && Number(step) < 1) return false;
  if (base === '*') return true;
  if (base === '?') return field.question === true && step === undefined;
  const [from = '', to] = base.split('-');
  const start = tokenValue(from, field);
  if (start === undefined) return false;
  if (to === undefined) return true;
  const end = tokenValue(to, field);
  return end !== undefined && start <= end;
}

/** undefined when `expression` is a well-formed cron expression, else what was expected. */
export function cronProblem(expression: string): string | undefined {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) {
    return 'a cron expression of 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), e.g. "0 6 * * *"';
  }
  const fields = parts.length === 6 ? [SECOND, ...FIVE] : FIVE;
  for (const [index, part] of parts.entries()) {
    const field = fields[index];
    if (!field) continue;
    if (!part.split(',').every((item) => itemIsValid(item, field))) {
      const names = field.names ? ` or ${field.names[0]}-${field.names.at(-1)}` : '';
      const question = field.question ? ', ?' : '';
      return `field ${index + 1} (${field.name}) to be *${question}, n, a-b, */n or a comma list of those, with n from ${field.min} to ${field.max}${names}`;
    }
  }
  return undefined;
}

export function isCron(expression: string): boolean {
  return cronProblem(expression) === undefined;
}
