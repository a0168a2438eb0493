import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { developmentMarkers, loadPolicy } from '@switchboard/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, decodeMasterKey, loadConfig } from '../../gateway/src/config.ts';
import { ConfigError } from '../../gateway/src/errors.ts';
import { REPO_ROOT } from '../helpers/gateway.ts';
import { find, type K8sObject, kubectlVersion, render, validate } from '../helpers/kustomize.ts';

// deploy/kubernetes (issue 19 item 4): every base/overlay/component combination rendered with
// the real `kubectl kustomize`, every object validated against the Kubernetes API schemas
// (kubernetes-models: ajv validators generated from the API's OpenAPI document), then the facts
// that matter checked. Spawns kubectl, hence an integration test; it uses no
// database, so it runs the same on PGlite and PostgreSQL.

const K8S = path.join(REPO_ROOT, 'deploy/kubernetes');
const GENERATED = path.join(REPO_ROOT, `test/fixtures/.generated-deploy-${process.pid}`);

/** The combinations an operator can render; the generated ones are written in beforeAll. */
const RENDERS: Record<string, string> = {
  base: path.join(K8S, 'base'),
  'overlays/example': path.join(K8S, 'overlays/example'),
  'base + components/hpa': path.join(GENERATED, 'base-hpa'),
  // The example overlay as an operator uses it: another namespace, real keys from a file.
  'overlays/example + secrets + namespace': path.join(GENERATED, 'operator'),
};
const rendered: Record<string, K8sObject[]> = {};
const operatorKeys = {
  DATABASE_URL: 'postgres://switchboard:pw@db.internal:5432/switchboard',
  SWITCHBOARD_MASTER_KEY: randomBytes(32).toString('base64'),
  SWITCHBOARD_ADMIN_KEY: randomBytes(32).toString('hex'),
};

beforeAll(() => {
  kubectlVersion();
  const write = (dir: string, files: Record<string, string>) => {
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  };
  const rel = (from: string, to: string) => path.relative(from, path.join(K8S, to));
  const baseHpa = RENDERS['base + components/hpa']!;
  write(baseHpa, {
    'kustomization.yaml': `resources: [${rel(baseHpa, 'base')}]\ncomponents: [${rel(baseHpa, 'components/hpa')}]\n`,
  });
  const operator = RENDERS['overlays/example + secrets + namespace']!;
  write(operator, {
    'kustomization.yaml': [
      `resources: [${rel(operator, 'overlays/example')}]`,
      'namespace: agents-prod',
      'secretGenerator:',
      '  - { name: switchboard-keys, behavior: replace, envs: [switchboard-keys.env] }',
      '',
    ].join('\n'),
    'switchboard-keys.env': Object.entries(operatorKeys)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
  });
  for (const [name, dir] of Object.entries(RENDERS)) rendered[name] = render(dir);
});
afterAll(() => fs.rmSync(GENERATED, { recursive: true, force: true }));

describe.each(Object.keys(RENDERS))('kubectl kustomize %s', (name) => {
  const objects = () => rendered[name]!;

  it('renders objects that the Kubernetes API schemas accept', async () => {
    expect(objects().length).toBeGreaterThanOrEqual(10);
    for (const object of objects()) {
      await expect(validate(object), `${object.kind} ${object.metadata.name}`).resolves.toBe(
        undefined,
      );
    }
  });

  it('probes the gateway on /readyz and /healthz at its port; drains before the kubelet kills it', () => {
    const deployment = find(objects(), 'Deployment', 'switchboard');
    const pod = deployment.spec.template.spec;
    const [gateway] = pod.containers;
    const port = gateway.ports.find((p: { name: string }) => p.name === 'http');
    expect(port.containerPort).toBe(8080);
    const env = Object.fromEntries(
      gateway.env.map((e: { name: string; value: string }) => [e.name, e.value]),
    );
    expect(env).toMatchObject({ PORT: '8080', HOST: '0.0.0.0', SWITCHBOARD_MODE: 'production' });
    expect(gateway.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(gateway.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(gateway.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    // The grace period covers the preStop sleep, the 10 s request deadline and the closes.
    const preStop = Number(gateway.lifecycle.preStop.exec.command[1]);
    const drainSec = 10_000 / 1000;
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStop + drainSec + 10);
    const service = find(objects(), 'Service', 'switchboard');
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(service.spec.ports[0].targetPort).toBe('http');
  });

  it('every variable the Deployment sets is one the gateway reads (no typo goes unnoticed)', () => {
    const deployment = find(objects(), 'Deployment', 'switchboard');
    const [gateway] = deployment.spec.template.spec.containers;
    const names: string[] = gateway.env.map((e: { name: string }) => e.name);
    for (const from of gateway.envFrom) {
      const ref = from.configMapRef ?? from.secretRef;
      const source = find(objects(), from.configMapRef ? 'ConfigMap' : 'Secret', ref.name);
      names.push(...Object.keys(source.data ?? {}));
    }
    // KUBECONFIG and HOME are for the runner's kubectl (runners/cli.ts passes only those).
    const known = new Set([...CONFIG_VARIABLES, 'KUBECONFIG', 'HOME']);
    expect(names.filter((n) => !known.has(n))).toEqual([]);
    expect(names).toEqual(
      expect.arrayContaining([
        'DATABASE_URL',
        'SWITCHBOARD_MASTER_KEY',
        'SWITCHBOARD_ADMIN_KEY',
        'SWITCHBOARD_PUBLIC_URL',
      ]),
    );
  });

  it('every container runs as non-root with limits and a read-only root filesystem', () => {
    const deployment = find(objects(), 'Deployment', 'switchboard');
    const pod = deployment.spec.template.spec;
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
      expect(c.resources.limits, c.name).toMatchObject({
        cpu: expect.any(String),
        memory: expect.any(String),
      });
      expect(c.resources.requests, c.name).toBeDefined();
      expect(c.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(c.image, 'an image pinned by tag or digest').toMatch(/[:@][^/]+$/);
      expect(c.image).not.toMatch(/:latest$/);
    }
    // The writable paths are volumes: the data dir and /tmp.
    const mounts = pod.containers[0].volumeMounts.map((m: { mountPath: string }) => m.mountPath);
    expect(mounts).toEqual(expect.arrayContaining(['/data', '/tmp']));
  });

  it('the PodDisruptionBudget keeps one of the Deployment’s pods', () => {
    const deployment = find(objects(), 'Deployment', 'switchboard');
    const pdb = find(objects(), 'PodDisruptionBudget');
    expect(pdb.spec.minAvailable).toBe(1);
    const podLabels = deployment.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels))
      expect(podLabels[k]).toBe(v);
    const replicas =
      deployment.spec.replicas ?? find(objects(), 'HorizontalPodAutoscaler').spec.minReplicas;
    expect(replicas).toBeGreaterThanOrEqual(2);
  });

  it('the runner’s RoleBinding names the gateway’s ServiceAccount in its own namespace', () => {
    const account = find(objects(), 'ServiceAccount', 'switchboard');
    const binding = find(objects(), 'RoleBinding');
    const deployment = find(objects(), 'Deployment', 'switchboard');
    expect(deployment.spec.template.spec.serviceAccountName).toBe(account.metadata.name);
    expect(binding.subjects).toEqual([
      {
        kind: 'ServiceAccount',
        name: account.metadata.name,
        namespace: account.metadata.namespace,
      },
    ]);
    expect(binding.metadata.namespace).toBe(account.metadata.namespace);
    expect(binding.roleRef).toMatchObject({
      kind: 'Role',
      name: find(objects(), 'Role').metadata.name,
    });
  });

  it('no Secret holds a value that looks like a real key', () => {
    for (const secret of objects().filter((o) => o.kind === 'Secret')) {
      for (const [key, encoded] of Object.entries<string>(secret.data ?? {})) {
        const value = Buffer.from(encoded, 'base64').toString('utf8');
        const mine = Object.values(operatorKeys).includes(value); // the test's own render
        if (mine) continue;
        expect(decodeMasterKey(value), key).toBeUndefined();
        expect(value, key).not.toMatch(/^[\x21-\x7e]{32,}$/);
        expect(value, key).not.toMatch(/:\/\/[^/]*:[^@]+@/); // no password in a URL
      }
    }
  });
});

describe('what the renders say', () => {
  it('the base’s placeholder keys stop the gateway at boot, naming each variable', () => {
    const secret = find(rendered.base!, 'Secret');
    const env = Object.fromEntries(
      Object.entries<string>(secret.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
    );
    expect(Object.keys(env).sort()).toEqual(
      ['DATABASE_URL', 'SWITCHBOARD_ADMIN_KEY', 'SWITCHBOARD_MASTER_KEY'].sort(),
    );
    let error: unknown;
    try {
      loadConfig({ ...env, SWITCHBOARD_MODE: 'production' }, REPO_ROOT);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    for (const name of Object.keys(env)) expect(String((error as Error).message)).toContain(name);
  });

  it('an operator’s overlay replaces the keys, moves every object and the binding to its namespace', () => {
    const objects = rendered['overlays/example + secrets + namespace']!;
    const secret = find(objects, 'Secret');
    const decoded = Object.fromEntries(
      Object.entries<string>(secret.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
    );
    expect(decoded).toEqual(operatorKeys);
    // The real keys pass the gateway's own check.
    expect(() =>
      loadConfig({ ...decoded, SWITCHBOARD_MODE: 'production' }, REPO_ROOT),
    ).not.toThrow();
    const namespaced = objects.filter((o) => o.kind !== 'Namespace');
    expect(new Set(namespaced.map((o) => o.metadata.namespace))).toEqual(new Set(['agents-prod']));
    // The Deployment refers to the generated Secret by its hashed name.
    const deployment = find(objects, 'Deployment', 'switchboard');
    const refs = deployment.spec.template.spec.containers[0].envFrom.map(
      (f: { secretRef?: { name: string } }) => f.secretRef?.name,
    );
    expect(refs).toContain(secret.metadata.name);
    // The example's HPA component comes along.
    expect(objects.some((o) => o.kind === 'HorizontalPodAutoscaler')).toBe(true);
  });

  it('an overlay that deletes the generated Secret leaves the Deployment on the plain name', () => {
    // README.md "Secrets", way 2: a Secret made outside the render (External Secrets, …).
    const dir = path.join(GENERATED, 'external-secret');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'kustomization.yaml'),
      [
        `resources: [${path.relative(dir, path.join(K8S, 'overlays/example'))}]`,
        'patches:',
        '  - patch: |-',
        '      $patch: delete',
        '      apiVersion: v1',
        '      kind: Secret',
        '      metadata: { name: switchboard-keys }',
        '',
      ].join('\n'),
    );
    const objects = render(dir);
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    const [gateway] = find(objects, 'Deployment', 'switchboard').spec.template.spec.containers;
    expect(gateway.envFrom).toContainEqual({ secretRef: { name: 'switchboard-keys' } });
  });

  it('the HPA component replaces the fixed replica count and targets the Deployment', () => {
    const objects = rendered['base + components/hpa']!;
    expect(find(objects, 'Deployment', 'switchboard').spec.replicas).toBeUndefined();
    const hpa = find(objects, 'HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'switchboard',
    });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(find(rendered.base!, 'Deployment', 'switchboard').spec.replicas).toBe(2);
  });

  it('the policy in the ConfigMap loads and production mode accepts it', () => {
    const configMap = rendered.base!.find((o) => o.kind === 'ConfigMap' && o.data['policy.yaml']);
    const file = path.join(GENERATED, 'policy.yaml');
    fs.writeFileSync(file, configMap!.data['policy.yaml']);
    const loaded = loadPolicy(file);
    expect(loaded.ok, JSON.stringify(loaded)).toBe(true);
    if (loaded.ok) expect(developmentMarkers(loaded.policy)).toEqual([]);
  });
});
