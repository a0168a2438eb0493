import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { REPO_ROOT, type TestGateway, useTestGateway } from './gateway.ts';

/**
 * The lifecycle hook tests' gateway (test/integration/hooks.test.ts, test/security/hooks.test.ts):
 * the integrations of test/fixtures/lifecycle-hooks (alpha, beta: sessions own; gamma: sessions
 * all without the events.all grant, refused; delta: sessions all, granted), each hook appending
 * what it receives to <reports>/<name>.jsonl. Tasks run `true` (they start and end at once).
 */
export const HOOKS_DIR = path.join(REPO_ROOT, 'test/fixtures/lifecycle-hooks');

export interface HookCall {
  event: { type: string; seq: string; taskId: string; createdAt: string; data: unknown };
  session: { id: string; key: string };
  integration: string;
}

export function useHooksGateway(): {
  gw: () => TestGateway;
  calls: (integration: string) => HookCall[];
  post: (integration: string, triggers: unknown[]) => Promise<string>;
  /** The generated policy file (a test may rewrite it and reload an integration). */
  policy: string;
} {
  const reports = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-hooks-'));
  const policy = path.join(reports, 'policy.yaml');
  const report = (name: string) => path.join(reports, `${name}.jsonl`);
  const entry = (name: string, grants: string, more = '') =>
    `  ${name}: { enabled: true, grants: [${grants}], profile: quick, settings: { REPORT_FILE: "${report(name)}" }${more} }`;
  fs.writeFileSync(
    policy,
    `apiVersion: switchboard/policy/v1
integrations:
${entry('alpha', 'webhooks, sessions.write, events', ', webhooks: { unsigned: true, requestsPerMinute: 1000 }')}
${entry('beta', 'webhooks, sessions.write, events', ', webhooks: { unsigned: true, requestsPerMinute: 1000 }')}
${entry('gamma', 'events')}
${entry('delta', 'events, events.all')}
tokens: { defaultTtl: 15m, maxTtl: 2h }
profiles:
  quick:
    runner: { driver: process, command: "true" }
    tools: ["alpha:*", "beta:*"]
    concurrency: 4
`,
  );
  afterAll(() => fs.rmSync(reports, { recursive: true, force: true }));
  const gw = useTestGateway({ INTEGRATION_DIRS: HOOKS_DIR, SWITCHBOARD_POLICY: policy });
  return {
    gw,
    policy,
    calls: (name) => {
      const file = report(name);
      if (!fs.existsSync(file)) return [];
      return fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as HookCall);
    },
    /** A webhook delivery to <integration>/tasks answering these triggers; its delivery id. */
    post: async (integration, triggers) => {
      const res = await fetch(`${gw().url}/hooks/${integration}/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ triggers }),
      });
      if (res.status !== 202) throw new Error(`webhook: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { id: string }).id;
    },
  };
}

/** The calls of one task, one per seq (delivery is at least once), in seq order. */
export function callsOfTask(calls: readonly HookCall[], taskId: string): HookCall[] {
  const bySeq = new Map<string, HookCall>();
  for (const c of calls) if (c.event.taskId === taskId) bySeq.set(c.event.seq, c);
  return [...bySeq.values()].sort((a, b) => (BigInt(a.event.seq) < BigInt(b.event.seq) ? -1 : 1));
}
