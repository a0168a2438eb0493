import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../../gateway/src/runners/bundle.ts';
import { KubernetesRunner } from '../../gateway/src/runners/kubernetes.ts';
import { REPO_ROOT } from '../helpers/gateway.ts';
import { find, type K8sObject, kubectlVersion, render, validate } from '../helpers/kustomize.ts';

// The runner's Role (base/runner-rbac.yaml) must be exactly what the kubernetes runner's kubectl
// calls need. The runner is run against the fake kubectl (test/fixtures/fake-bin), which
// records each call; each call is turned into the API requests real kubectl makes for it, and
// their union must equal the Role's rules: a new kubectl call in the runner fails here until it
// is mapped (and the Role follows), and a wider Role fails too.
const RESOURCE_OF_KIND: Record<string, string> = {
  Job: 'jobs.batch',
  Secret: 'secrets',
  ConfigMap: 'configmaps',
};
const RESOURCE_OF_ARG: Record<string, string> = {
  job: 'jobs.batch',
  secret: 'secrets',
  configmap: 'configmaps',
  pods: 'pods',
};

/** `verb resource` pairs real kubectl sends to the API server for one command line. */
function apiRequests(argv: string[], stdin: string): string[] {
  const [command, what] = argv;
  if (command === 'apply' && what === '-f') {
    // Client-side apply: GET the object, then POST it, or PATCH it when it exists.
    const list = JSON.parse(stdin) as { items: Array<{ kind: string }> };
    return list.items.flatMap((i) => {
      const resource = RESOURCE_OF_KIND[i.kind];
      if (!resource) throw new Error(`the runner applies a ${i.kind}: map it and widen the Role`);
      return [`get ${resource}`, `create ${resource}`, `patch ${resource}`];
    });
  }
  if (command === 'get' && what === 'job') return ['get jobs.batch'];
  if (command === 'get' && what === 'pods' && argv.includes('--selector')) return ['list pods'];
  // logs job/NAME: GET the Job for its selector, LIST its pods, GET the first pod's log.
  if (command === 'logs' && what?.startsWith('job/'))
    return ['get jobs.batch', 'list pods', 'get pods/log'];
  // delete a,b,c NAME: GET each (with --ignore-not-found a 404 is fine), then DELETE it.
  if (command === 'delete' && what)
    return what.split(',').flatMap((arg) => {
      const resource = RESOURCE_OF_ARG[arg];
      if (!resource) throw new Error(`the runner deletes ${arg}: map it and widen the Role`);
      return [`get ${resource}`, `delete ${resource}`];
    });
  throw new Error(`kubectl ${argv.join(' ')}: an unmapped call; map it here and in the Role`);
}

const FAKE_BIN = path.join(REPO_ROOT, 'test/fixtures/fake-bin');
const GENERATED = path.join(REPO_ROOT, `test/fixtures/.generated-runner-role-${process.pid}`);
let base: K8sObject[];
beforeAll(() => {
  kubectlVersion();
  base = render(path.join(REPO_ROOT, 'deploy/kubernetes/base'));
});
afterAll(() => fs.rmSync(GENERATED, { recursive: true, force: true }));

describe('the kubernetes runner’s Role', () => {
  it('equals the API requests of the kubectl calls the runner makes, nothing more', async () => {
    const state = path.join(GENERATED, 'fake-kubectl');
    const needed = new Set<string>();
    // A task that completes, one that fails (the exit code is read from its pod), one whose
    // apply fails (the clean-up still runs).
    for (const knobs of [
      {},
      { FAIL_REASON: 'BackoffLimitExceeded', EXIT: 3 },
      { APPLY_ERROR: 'denied' },
    ]) {
      fs.rmSync(state, { recursive: true, force: true });
      fs.mkdirSync(state, { recursive: true });
      fs.writeFileSync(path.join(state, 'fake.json'), JSON.stringify(knobs));
      const runner = new KubernetesRunner(
        { driver: 'kubernetes', image: 'agent:1', namespace: 'switchboard' },
        { hostEnv: { PATH: `${FAKE_BIN}:${process.env.PATH}`, HOME: state }, pollMs: 10 },
      );
      const bundle = buildBundle({
        publicUrl: 'http://switchboard',
        taskId: 'task-role',
        sessionId: 'session-role',
        token: 'tok-mcp',
        integrations: [],
        switchboardServer: { url: 'http://switchboard/mcp/switchboard', token: 'tok-sb' },
      });
      await runner.run({
        prompt: 'p',
        bundle,
        workdir: state,
        timeoutMs: 30_000,
        onLine: () => {},
      });
      const lines = fs.readFileSync(path.join(state, 'calls.jsonl'), 'utf8').trim().split('\n');
      for (const line of lines) {
        const call = JSON.parse(line) as { argv: string[]; stdin: string };
        // What the runner applies is itself valid for the API server.
        if (call.argv[0] === 'apply')
          for (const item of JSON.parse(call.stdin).items) await validate(item);
        for (const request of apiRequests(call.argv, call.stdin)) needed.add(request);
      }
    }
    const role = find(base, 'Role', 'switchboard-runner');
    const granted = new Set<string>();
    for (const rule of role.rules as Array<Record<string, string[]>>) {
      expect(rule.resourceNames, 'names are new per task').toBeUndefined();
      for (const group of rule.apiGroups!)
        for (const resource of rule.resources!)
          for (const verb of rule.verbs!)
            granted.add(`${verb} ${resource}${group === '' ? '' : `.${group}`}`);
    }
    expect([...granted].sort()).toEqual([...needed].sort());
    // No ClusterRole or ClusterRoleBinding: the runner's rights end at its namespace.
    expect(base.filter((o) => o.kind.startsWith('Cluster'))).toEqual([]);
  });
});
