import { z } from 'zod';
import { manifestSchema } from './manifest.ts';

/**
 * The manifest as JSON Schema (draft 2020-12) for editors: what an author may write, so
 * fields with defaults are optional. The cross-field rules (manifest-rules.ts) cannot be
 * expressed in it; loadManifest checks them. docs/manifest.schema.json is generated from this
 * by scripts/manifest-schema.ts, and a unit test fails when the file is stale.
 */
export function manifestJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(manifestSchema, { io: 'input', target: 'draft-2020-12' });
  return {
    $schema: schema.$schema,
    title: 'Switchboard sidecar manifest (switchboard.yaml)',
    description: 'See docs/manifest.md. Cross-field rules are checked by the gateway only.',
    ...schema,
  };
}

/** The generated file's exact text: two-space indent, trailing newline, so diffs stay small. */
export function renderManifestJsonSchema(): string {
  return `${JSON.stringify(manifestJsonSchema(), null, 2)}\n`;
}
