import type { z } from 'zod';
import { errorsFromZod, type ManifestError } from './errors.ts';

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: ManifestError[] };

/**
 * Check any value against one of our schemas with errors in the manifest format; `source`
 * names where the value came from (a file, or e.g. `github on_webhook result`).
 */
export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  source: string,
): Validated<z.output<S>> {
  const checked = schema.safeParse(value);
  if (checked.success) return { ok: true, value: checked.data };
  return { ok: false, errors: errorsFromZod(checked.error, value, source) };
}
