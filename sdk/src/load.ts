import path from 'node:path';
import type { ManifestError } from './errors.ts';
import { type Manifest, manifestSchema } from './manifest.ts';
import { MANIFEST_API_VERSION, MANIFEST_FILE } from './manifest-shape.ts';
import { readYamlFile, validateYaml } from './yaml.ts';

/** Loading a manifest never throws for a bad file: the caller refuses that one integration. */
export type ManifestResult =
  | { ok: true; manifest: Manifest; file: string }
  | { ok: false; file: string; errors: ManifestError[] };

const WHAT = `a manifest (a mapping starting with apiVersion: ${MANIFEST_API_VERSION})`;

/** Check manifest text; `file` is only used to name it in errors. */
export function parseManifest(text: string, file: string): ManifestResult {
  const result = validateYaml(manifestSchema, text, file, WHAT);
  return result.ok
    ? { ok: true, manifest: result.value, file }
    : { ok: false, file, errors: result.errors };
}

/** Read `<dir>/switchboard.yaml` and check it. */
export async function loadManifest(dir: string): Promise<ManifestResult> {
  const file = path.join(dir, MANIFEST_FILE);
  const result = await readYamlFile(manifestSchema, file, WHAT);
  return result.ok
    ? { ok: true, manifest: result.value, file }
    : { ok: false, file, errors: result.errors };
}
