/**
 * A gateway serving the hostile integration (test/fixtures/hostile) beside a quiet one, for the
 * containment tests of issue 13. Each describe block gets its own copy of the fixture (inside
 * the repository, so the server finds tsx and the SDK; discover.ts follows no symlinks) with
 * the `HOSTILE_*` settings it asks for declared in the copy's manifest and given in the policy.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll } from 'vitest';
import { REPO_ROOT, type TestGateway, useTestGateway } from './gateway.ts';
import { copyHostileFixture } from './hostile-copy.ts';

export { HOSTILE_FIXTURE } from './hostile-copy.ts';

export interface HostileOptions {
  /** `HOSTILE_*` settings for the hostile server (declared in its manifest, set in the policy). */
  settings?: Record<string, string>;
  /** More YAML under `integrations.hostile` in the policy (indented by the caller: 4 spaces). */
  policy?: string;
  /** More lines for the manifest (top-level keys, e.g. `instances`, under `server:` no). */
  manifest?: string;
  /** Also serve a second, well-behaved copy named `quiet` (the victim's latency is timed on it). */
  quiet?: boolean;
  /** Extra gateway environment. */
  env?: Record<string, string>;
}

/** Writes the integrations folder and policy for `options`; returns their paths. */
export function hostileIntegrations(options: HostileOptions = {}): {
  dirs: string;
  policy: string;
  root: string;
} {
  const root = fs.mkdtempSync(path.join(REPO_ROOT, 'test/fixtures/.generated-hostile-'));
  const settings = options.settings ?? {};
  const integrations = path.join(root, 'integrations');
  const copy = (name: string, withSettings: Record<string, string>) =>
    copyHostileFixture(integrations, name, withSettings, options.manifest ?? '');
  copy('hostile', settings);
  if (options.quiet) copy('quiet', {});
  const settingLines = Object.entries(settings)
    .map(([key, value]) => `      ${key}: ${JSON.stringify(value)}`)
    .join('\n');
  const policy = path.join(root, 'policy.yaml');
  fs.writeFileSync(
    policy,
    `apiVersion: switchboard/policy/v1
integrations:
  hostile:
    enabled: true
${settingLines ? `    settings:\n${settingLines}\n` : ''}${options.policy ?? ''}${options.quiet ? '  quiet: { enabled: true }\n' : ''}tokens: { defaultTtl: 15m, maxTtl: 2h }
`,
  );
  return { dirs: path.join(root, 'integrations'), policy, root };
}

/** A gateway for a describe block over a fresh copy of the hostile fixture. */
export function useHostileGateway(options: HostileOptions = {}): () => TestGateway {
  const { dirs, policy, root } = hostileIntegrations(options);
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  return useTestGateway({
    INTEGRATION_DIRS: dirs,
    SWITCHBOARD_POLICY: policy,
    ...options.env,
  });
}
