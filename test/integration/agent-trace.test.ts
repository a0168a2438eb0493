import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { buildBundle } from '../../gateway/src/runners/bundle.ts';
import { writeBundle } from '../../gateway/src/runners/files.ts';
import { type SwitchboardStub, startSwitchboardStub } from '../fixtures/agents/switchboard-stub.ts';
import { ADMIN_KEY, REPO_ROOT, runSwitchboard, useTestGateway } from '../helpers/gateway.ts';

// The reference agent continues the trace its task runs in (issue 17): with TRACEPARENT (and
// TRACESTATE) in its environment, as the runner sets them, every MCP request it sends carries
// them in `_meta` (SEP-414). Asserted where they arrive: the `probe` integration's `whoami`
// answers with the `_meta` its tools/call reached it with, through the real gateway (tracing off
// there, so it passes the agent's trace context on untouched), and the stub of the built-in
// server records the `_meta` of task_context, task_progress and task_complete.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-agent-trace-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const POLICY = path.join(tmp, 'policy.yaml');
fs.writeFileSync(
  POLICY,
  'apiVersion: switchboard/policy/v1\nintegrations:\n  probe: { enabled: true }\ntokens: { defaultTtl: 15m, maxTtl: 2h }\n',
);

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

interface Granted {
  task: { id: string };
  mcp: { url: string; token: string };
  integrations: Array<{ name: string; url: string; token: string }>;
}

describe('switchboard agent with TRACEPARENT', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: path.join(REPO_ROOT, 'test/fixtures/mcp-integrations'),
    SWITCHBOARD_POLICY: POLICY,
  });
  let stub: SwitchboardStub | undefined;
  afterEach(async () => {
    await stub?.close();
    stub = undefined;
  });

  /** Grants a task over probe, runs the agent on a plan of `calls` whoami calls with `traceEnv`. */
  async function runAgent(calls: number, traceEnv: Record<string, string>) {
    const response = await fetch(`${gw().url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ external: true, scope: ['probe:*'], prompt: 'trace' }),
    });
    expect(response.status).toBe(201);
    const granted = (await response.json()) as Granted;
    const plan = { calls: Array.from({ length: calls }, () => ({ tool: 'probe__whoami' })) };
    stub = await startSwitchboardStub(JSON.stringify(plan));
    const bundle = buildBundle({
      publicUrl: gw().url,
      taskId: granted.task.id,
      sessionId: 'session-agent-trace-test',
      token: granted.mcp.token,
      integrations: granted.integrations.map(({ name, url, token }) => ({ name, url, token })),
      switchboardServer: { url: stub.url, token: stub.token },
    });
    const dir = await writeBundle(bundle, tmp);
    const run = await runSwitchboard(['agent', '--bundle', dir], { ...bundle.env, ...traceEnv });
    expect(run.code, run.stderr).toBe(0);
    const complete = stub.calls.at(-1);
    expect(complete?.tool).toBe('task_complete');
    // The plan's result is the last call's text: the `_meta` whoami saw, as JSON.
    const upstreamMeta = JSON.parse(String(complete?.arguments.result)) as Record<string, unknown>;
    return { upstreamMeta, stubMetas: stub.metas, tools: stub.calls.map((c) => c.tool) };
  }

  it('every request carries _meta.traceparent: the tools/call that reaches the integration, and each built-in call', async () => {
    const { upstreamMeta, stubMetas, tools } = await runAgent(3, { TRACEPARENT });
    expect(upstreamMeta.traceparent).toBe(TRACEPARENT);
    expect(upstreamMeta).not.toHaveProperty('tracestate');
    // task_context, task_progress ×3, task_complete: five requests, each with the trace.
    expect(tools).toEqual([
      'task_context',
      'task_progress',
      'task_progress',
      'task_progress',
      'task_complete',
    ]);
    expect(stubMetas).toHaveLength(5);
    for (const meta of stubMetas) expect(meta.traceparent).toBe(TRACEPARENT);
  });

  it('TRACESTATE goes with it', async () => {
    const tracestate = 'vendor1=opaque,rojo=00f067aa0ba902b7';
    const { upstreamMeta, stubMetas } = await runAgent(1, {
      TRACEPARENT,
      TRACESTATE: tracestate,
    });
    expect(upstreamMeta).toMatchObject({ traceparent: TRACEPARENT, tracestate });
    for (const meta of stubMetas)
      expect(meta).toMatchObject({ traceparent: TRACEPARENT, tracestate });
  });

  it.each([
    ['an all-zero trace id', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`],
    ['upper-case hex', `00-${TRACE_ID.toUpperCase()}-00f067aa0ba902b7-01`],
    ['a short span id', `00-${TRACE_ID}-00f067aa0ba902-01`],
    ['a header injection attempt', `${TRACEPARENT}\r\nx-evil: 1`],
  ])(
    'a malformed TRACEPARENT (%s) is ignored: no trace context anywhere, and the task still completes',
    async (_, bad) => {
      const { upstreamMeta, stubMetas } = await runAgent(1, {
        TRACEPARENT: bad,
        TRACESTATE: 'vendor1=opaque',
      });
      expect(upstreamMeta).not.toHaveProperty('traceparent');
      expect(upstreamMeta).not.toHaveProperty('tracestate');
      expect(stubMetas).toHaveLength(3);
      for (const meta of stubMetas) {
        expect(meta).not.toHaveProperty('traceparent');
        expect(meta).not.toHaveProperty('tracestate');
      }
    },
  );
});
