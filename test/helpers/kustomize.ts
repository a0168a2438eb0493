import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';

/** Rendering deploy/kubernetes with the real `kubectl kustomize` (test/integration/deploy-manifests.test.ts, test/security/deploy-runner-role.test.ts). */

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests, read field by field below
  [field: string]: any;
}

export function kubectlVersion(): string {
  try {
    return execFileSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  } catch (error) {
    throw new Error(
      `kubectl is required to render deploy/kubernetes (kubectl kustomize) and was not found or failed: ${(error as Error).message}. Install it (https://kubernetes.io/docs/tasks/tools/) — this test does not skip.`,
    );
  }
}

export function render(dir: string): K8sObject[] {
  const text = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  const objects = parseAllDocuments(text).map((d) => d.toJS() as K8sObject);
  // kustomize writes long base64 values as literal blocks of 70-column lines; the API server's
  // decoder skips the line breaks (Go's base64 ignores \n), the schema's `byte` pattern not.
  for (const o of objects)
    if (o.kind === 'Secret' && o.data)
      for (const key of Object.keys(o.data)) o.data[key] = String(o.data[key]).replace(/\n/g, '');
  return objects;
}

export const find = (objects: K8sObject[], kind: string, name?: string): K8sObject => {
  const found = objects.find(
    (o) => o.kind === kind && (name === undefined || o.metadata.name === name),
  );
  if (!found) throw new Error(`no ${kind}${name ? ` ${name}` : ''} in the render`);
  return found;
};

/** kubernetes-models' module for an apiVersion/kind: `v1/Service`, `apps/v1/Deployment`. */
export async function validate(object: K8sObject): Promise<void> {
  const mod = (await import(`kubernetes-models/${object.apiVersion}/${object.kind}`)) as Record<
    string,
    new (
      data: unknown,
    ) => { validate(): void }
  >;
  const Model = mod[object.kind];
  if (!Model) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  new Model(object).validate();
}
