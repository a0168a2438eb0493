import type { Runner as RunnerConfig } from '@switchboard/policy';
import { taskResourceName } from './cli.ts';
import { containerEnv } from './env.ts';
import { type BundleFileSpec, bundleFiles, PROMPT_FILE } from './files.ts';
import { expandArgs, placeholderValues, type RunRequest } from './runner.ts';

/**
 * The objects one task becomes on a cluster, applied together as a `v1 List`: a Secret (the
 * tokens, the profile's variables and its secrets, such as model API keys), a ConfigMap (the bundle files, which hold no token, and
 * the prompt) and the Job. All three share the task's name and labels so
 * `kubectl delete job,secret,configmap <name>` removes them.
 */
export type KubernetesRunnerConfig = Extract<RunnerConfig, { driver: 'kubernetes' }>;

export const POD_WORKDIR = '/workspace';
/** Finished Jobs stay an hour for `kubectl describe`, then the cluster removes them itself. */
export const JOB_TTL_AFTER_FINISHED_SEC = 3_600;
/** As for docker (docker.ts): requests are what the scheduler reserves, limits what it enforces. */
export const POD_RESOURCES = {
  requests: { cpu: '250m', memory: '512Mi' },
  limits: { cpu: '1', memory: '2Gi' },
} as const;

/**
 * The pod security standard's `restricted` profile for the agent's pod, as the docker runner's
 * `--user` keeps its container off root: uid/gid 1000 (the `node` user of the official Node
 * images the agent CLIs ship on); fsGroup makes the emptyDir and the projected bundle files that
 * user's. No privilege escalation, no capabilities, the runtime's default seccomp profile. An
 * image that needs root does not start (the Job fails with CreateContainerConfigError), which the
 * operator sees at once rather than an agent that runs as root unnoticed.
 */
export const POD_SECURITY_CONTEXT = {
  runAsNonRoot: true,
  runAsUser: 1000,
  runAsGroup: 1000,
  fsGroup: 1000,
  seccompProfile: { type: 'RuntimeDefault' },
} as const;
export const CONTAINER_SECURITY_CONTEXT = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
} as const;

/** Public values go in the pod spec; anything else is read from the Secret. */
const PUBLIC_ENV = new Set([
  'HOME',
  'LANG',
  'SWITCHBOARD_URL',
  'SWITCHBOARD_MCP_URL',
  'SWITCHBOARD_TASK_ID',
  'SWITCHBOARD_SESSION_ID',
]);

export interface KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels: Record<string, string> };
  [field: string]: unknown;
}

/** A label value: ≤ 63 of [A-Za-z0-9-_.], alphanumeric at both ends. */
function labelValue(value: string): string {
  return value
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

export function jobManifest(
  config: KubernetesRunnerConfig,
  request: Pick<RunRequest, 'prompt' | 'bundle' | 'timeoutMs' | 'secrets' | 'files'>,
): { name: string; list: { apiVersion: 'v1'; kind: 'List'; items: KubernetesObject[] } } {
  const { bundle } = request;
  const name = taskResourceName(bundle.taskId);
  const labels = {
    'app.kubernetes.io/managed-by': 'switchboard',
    'switchboard.task': labelValue(bundle.taskId),
    'switchboard.session': labelValue(bundle.sessionId ?? ''),
  };
  const metadata = () => ({
    name,
    ...(config.namespace ? { namespace: config.namespace } : {}),
    labels,
  });
  const env = containerEnv(POD_WORKDIR, config.env, bundle.env, request.secrets);
  const secretNames = new Set(Object.keys(request.secrets ?? {}));
  const secretData: Record<string, string> = {};
  const configData: Record<string, string> = {};
  const podEnv: unknown[] = [];
  for (const [key, value] of Object.entries(env)) {
    if (PUBLIC_ENV.has(key) && !secretNames.has(key)) podEnv.push({ name: key, value });
    else {
      secretData[key] = value;
      podEnv.push({ name: key, valueFrom: { secretKeyRef: { name, key } } });
    }
  }
  // The prompt goes with the token-free files: `{prompt_file}` names it at /workspace/prompt.txt.
  const files: Array<BundleFileSpec & { content: string }> = [
    ...bundleFiles(bundle),
    { path: PROMPT_FILE, key: PROMPT_FILE, secret: false, content: request.prompt },
    // The context files (an agent's instructions and skills): no credential in them either.
    ...(request.files ?? []).map((f) => ({ ...f, secret: false })),
  ];
  for (const file of files) (file.secret ? secretData : configData)[file.key] = file.content;

  const values = placeholderValues(request, POD_WORKDIR, (...p) => p.join('/'));
  const args = expandArgs(config.args ?? [], values);
  const container = {
    name: 'agent',
    image: config.image,
    ...(config.command ? { command: [config.command] } : {}),
    ...(args.length > 0 ? { args } : {}),
    workingDir: POD_WORKDIR,
    env: podEnv,
    resources: POD_RESOURCES,
    securityContext: CONTAINER_SECURITY_CONTEXT,
    // The folder is a writable emptyDir (HOME must be writable); the bundle files are mounted
    // into it one by one, read-only, from the projected ConfigMap + Secret volume.
    volumeMounts: [
      { name: 'workspace', mountPath: POD_WORKDIR },
      ...files.map((f) => ({
        name: 'bundle',
        mountPath: `${POD_WORKDIR}/${f.path}`,
        subPath: f.path,
        readOnly: true,
      })),
    ],
  };
  const pick = (secret: boolean) =>
    files.filter((f) => f.secret === secret).map((f) => ({ key: f.key, path: f.path }));
  const job: KubernetesObject = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: metadata(),
    spec: {
      backoffLimit: 0, // a retry is the queue's decision (attempts), never the cluster's
      activeDeadlineSeconds: Math.max(1, Math.ceil(request.timeoutMs / 1000)),
      ttlSecondsAfterFinished: JOB_TTL_AFTER_FINISHED_SEC,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          ...(config.serviceAccount
            ? { serviceAccountName: config.serviceAccount }
            : { automountServiceAccountToken: false }), // no cluster API for an agent by default
          securityContext: POD_SECURITY_CONTEXT,
          containers: [container],
          volumes: [
            { name: 'workspace', emptyDir: {} },
            {
              name: 'bundle',
              projected: {
                // A source with no items projects every key of its object: the Secret (the
                // tokens) is a source only when a file is kept in it.
                sources: [
                  { configMap: { name, items: pick(false) } },
                  ...(pick(true).length > 0 ? [{ secret: { name, items: pick(true) } }] : []),
                ],
              },
            },
          ],
        },
      },
    },
  };
  return {
    name,
    list: {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: metadata(),
          type: 'Opaque',
          stringData: secretData,
        },
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: metadata(), data: configData },
        job,
      ],
    },
  };
}
