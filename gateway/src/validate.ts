import type { z } from 'zod';
import { SwitchboardError } from './errors.ts';

export interface Issue {
  path: string;
  message: string;
}

/** zod issues as `{ path: "scopes[1]", message }`, the form every error of ours uses. */
export function issuesOf(error: z.ZodError): Issue[] {
  return error.issues.map((issue) => ({
    path: issue.path
      .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
      .join(''),
    message: issue.message,
  }));
}

/** Parse untrusted input or throw a 400 naming each bad field and what was expected. */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = issuesOf(parsed.error);
  throw new SwitchboardError(
    'invalid_request',
    `invalid ${what}: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`,
    { details: { issues } },
  );
}
