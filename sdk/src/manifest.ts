import type { z } from 'zod';
import { manifestRuleViolations } from './manifest-rules.ts';
import { manifestObject } from './manifest-shape.ts';

/**
 * The sidecar manifest, `servers/<name>/switchboard.yaml`: its sections and fields
 * (manifest-shape.ts) joined with the rules across fields (manifest-rules.ts).
 */

/** The manifest with the cross-field rules of manifest-rules.ts (they run once every field is well-formed). */
export const manifestSchema = manifestObject.superRefine((manifest, ctx) => {
  for (const violation of manifestRuleViolations(manifest)) {
    ctx.addIssue({
      code: 'custom',
      path: violation.path,
      message: `expected ${violation.expected}`,
      params: violation.found === undefined ? {} : { found: violation.found },
    });
  }
});

/** A valid manifest with every default applied. */
export type Manifest = z.output<typeof manifestSchema>;
/** What an author may write (defaults optional). */
export type ManifestInput = z.input<typeof manifestSchema>;
export type ManifestServer = Manifest['server'];
export type ManifestSetting = Manifest['settings'][number];
export type ManifestWebhook = Manifest['webhooks'][number];
export type ManifestDispatcher = Manifest['dispatchers'][number];
export type ManifestSchedule = Manifest['schedules'][number];
export type ManifestProcess = Manifest['processes'][number];
export type ManifestPanel = Manifest['panels'][number];
export type ManifestEventHook = Manifest['events'][number];
