import { type ManifestError, readYamlFileSync, validateYaml } from '@switchboard/sdk';
import { POLICY_API_VERSION, type Policy, policySchema } from './schema.ts';

/** Errors have the manifest's shape and format (formatManifestErrors prints both). */
export type PolicyError = ManifestError;

export type PolicyResult =
  | { ok: true; policy: Policy; file: string }
  | { ok: false; file: string; errors: PolicyError[] };

const WHAT = `a policy (a mapping starting with apiVersion: ${POLICY_API_VERSION})`;

/** Check policy text; `file` is only used to name it in errors. */
export function parsePolicy(text: string, file: string): PolicyResult {
  const result = validateYaml(policySchema, text, file, WHAT);
  return result.ok
    ? { ok: true, policy: result.value, file }
    : { ok: false, file, errors: result.errors };
}

/**
 * Read and check the policy file. Synchronous: it is one small file read at boot and on
 * reload, and a caller that cannot await (a registry rebuilding itself) can still use it.
 */
export function loadPolicy(file: string): PolicyResult {
  const result = readYamlFileSync(policySchema, file, WHAT);
  return result.ok
    ? { ok: true, policy: result.value, file }
    : { ok: false, file, errors: result.errors };
}
