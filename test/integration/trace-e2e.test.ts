/**
 * Issue 17 done-when: one signed webhook → its handler → a task run by the reference agent →
 * a tool call (github's get_pr, against a fake GitHub API) → the result dispatched to a webhook
 * is ONE trace in an OTLP receiver, with the parentage the design promises, and none of the
 * flow's secrets in any span. The gateway is a real `switchboard start` process exporting over
 * OTLP/HTTP (protobuf, the default) to the receiver in this test.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_VERSION } from '../../gateway/src/version.ts';
import { type ByName, byName } from '../helpers/by-name.ts';
import { type FakeGitHub, startFakeGitHub } from '../helpers/fake-github.ts';
import {
  ADMIN_KEY,
  REFERENCE_AGENT_RUNNER,
  REPO_ROOT,
  runSwitchboard,
} from '../helpers/gateway.ts';
import { type GatewayProcess, startGatewayProcess } from '../helpers/gateway-process.ts';
import {
  type OtlpReceiver,
  type ReceivedSpan,
  startOtlpReceiver,
} from '../helpers/otlp-receiver.ts';
import { until } from '../helpers/until.ts';
import { githubHeaders } from '../helpers/webhooks.ts';

/** The fake GitHub by name through the egress proxy: set once it listens, before the gateway starts. */
let viaProxy: ByName;
const gatewayEnv: Record<string, string> = {};

const GITHUB_TOKEN = 'ghp_trace_e2e_token_0123456789';
const HOOKS_SECRET = 'trace-e2e-hooks-secret-0123';
const DISPATCH_SECRET = 'whsec_dHJhY2UtZTJlLWRpc3BhdGNoLXNlY3JldC0wMTIz';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-trace-'));

type Json = Record<string, unknown>;

/** A result receiver for the built-in webhook dispatch: records each POST's headers. */
async function startResultReceiver() {
  const posts: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      posts.push({ headers: req.headers, body });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { port, posts, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('one event is one trace (issue 17)', () => {
  let receiver: OtlpReceiver;
  let github: FakeGitHub;
  let results: Awaited<ReturnType<typeof startResultReceiver>>;
  let gw: GatewayProcess;
  /** The flow's ids and trace, for the CLI and metrics checks after it. */
  const flow = { deliveryId: '', taskId: '', traceId: '' };

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    results = await startResultReceiver();
    github = await startFakeGitHub({
      token: GITHUB_TOKEN,
      pulls: {
        'acme/api': [{ number: 42, title: 'Add dark mode', body: 'A theme.', author: 'ada' }],
      },
    });
    // The fake API by name, through the egress proxy (issue 21; helpers/egress.ts).
    viaProxy = byName('api.github.com', github.url);
    gatewayEnv.SWITCHBOARD_EGRESS_RESOLVE = viaProxy.resolve;
    fs.writeFileSync(
      path.join(tmp, 'policy.yaml'),
      `apiVersion: switchboard/policy/v1
integrations:
  hooks:
    enabled: true
    grants: [webhooks, sessions.write]
    webhooks: { unsigned: true }
    profile: scripted
    settings:
      STANDARD_SECRET: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
      GITHUB_SECRET: ${HOOKS_SECRET}
      SLACK_SECRET: unused-slack-secret
  github:
    enabled: true
    grants: [webhooks, dispatch, schedules, sessions.write, http.outbound, documents]
    outboundHosts: [api.github.com]
${viaProxy.policy}    settings:
      GITHUB_TOKEN: ${GITHUB_TOKEN}
      GITHUB_WEBHOOK_SECRET: unused-github-webhook-secret
      GITHUB_API_URL: ${viaProxy.url}
tokens: { defaultTtl: 15m, maxTtl: 2h }
dispatch:
  allowHosts: ["127.0.0.1:${results.port}"]
profiles:
  scripted:
    runner: ${REFERENCE_AGENT_RUNNER}
    tools: ["github:*"]
    timeout: 2m
`,
    );
    gw = await startGatewayProcess({
      ...gatewayEnv,
      // The webhook tests' `hooks` integration: its handler answers the triggers the body asks for.
      INTEGRATION_DIRS: `${path.join(REPO_ROOT, 'servers')}:${path.join(REPO_ROOT, 'test/fixtures/webhooks')}`,
      SWITCHBOARD_POLICY: path.join(tmp, 'policy.yaml'),
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
  }, 120_000);

  afterAll(async () => {
    await gw?.cleanup();
    await Promise.all([receiver?.close(), github?.close(), results?.close()]);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const api = async (route: string): Promise<Json> => {
    const res = await fetch(`${gw.url}/api/v1${route}`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    return (await res.json()) as Json;
  };

  it('webhook → delivery → handler → task → agent → tools/call → upstream → dispatch: one trace, parented', async () => {
    await until('hooks and github ready', async () => {
      const { integrations } = (await api('/integrations')) as { integrations: Json[] };
      const ready = integrations.filter((i) => i.state === 'ready').map((i) => i.name);
      return ready.includes('hooks') && ready.includes('github') ? true : undefined;
    });
    const plan = {
      calls: [{ tool: 'github__get_pr', arguments: { repo: 'acme/api', number: 42 } }],
      result: 'reviewed',
    };
    const body = JSON.stringify({
      triggers: [
        {
          session: {
            key: 'hooks:trace-1',
            dispatch: {
              type: 'webhook',
              config: { url: `http://127.0.0.1:${results.port}/result`, secret: DISPATCH_SECRET },
            },
          },
          message: JSON.stringify(plan),
          run: true,
        },
      ],
    });
    const res = await fetch(`${gw.url}/hooks/hooks/github`, {
      method: 'POST',
      // A traceparent from the sender is not continued: /hooks starts its own trace.
      headers: {
        ...githubHeaders(HOOKS_SECRET, body, randomUUID(), 'push'),
        traceparent: '00-11111111111111111111111111111111-2222222222222222-01',
      },
      body,
    });
    expect(res.status).toBe(202);
    const { id: deliveryId } = (await res.json()) as { id: string };
    const taskId = await until('the task done', async () => {
      const { delivery } = (await api(`/deliveries/${deliveryId}`)) as { delivery: Json };
      const tasks = (delivery?.tasks ?? []) as Json[];
      const done = tasks.find((t) => ['complete', 'failed'].includes(t.status as string));
      return done ? (done.id as string) : undefined;
    });
    const { task } = (await api(`/tasks/${taskId}`)) as { task: Json };
    expect(task.status, JSON.stringify(task)).toBe('complete');
    await until('the result posted', async () => (results.posts.length > 0 ? true : undefined));

    // Every span of the flow, by name, once the dispatch's own POST span has arrived.
    const spans = await receiver.waitFor(
      (all) => all.some((s) => s.name === 'dispatch attempt') && all.some((s) => s.name === 'POST'),
      60_000,
    );
    const byName = (name: string, where: (s: ReceivedSpan) => boolean = () => true) => {
      const found = spans.filter((s) => s.name === name && where(s));
      expect(
        found.map((s) => s.name),
        `${name} in ${spans.map((s) => s.name).join(', ')}`,
      ).toHaveLength(1);
      return found[0]!;
    };
    const ingress = byName('POST /hooks/:integration/:endpoint');
    expect(ingress).toMatchObject({
      kind: 'SERVER',
      parentSpanId: undefined,
      service: 'switchboard',
    });
    expect(ingress.traceId).not.toBe('11111111111111111111111111111111');
    expect(ingress.resource['service.version']).toBe(GATEWAY_VERSION);
    const trace = ingress.traceId;
    const inTrace = spans.filter((s) => s.traceId === trace);
    const parentOf = (s: ReceivedSpan) => inTrace.find((p) => p.spanId === s.parentSpanId);
    const verify = byName('webhook verify');
    const commit = byName('webhook commit');
    const processing = byName('delivery process');
    const handler = byName('tools/call on_webhook');
    const stored = byName('delivery store triggers');
    const run = byName('task run');
    const serverCall = byName('tools/call github__get_pr');
    const upstreamCall = byName('tools/call get_pr', (s) => s.service === 'switchboard');
    const dispatch = byName('dispatch attempt');
    const post = byName('POST', (s) => s.kind === 'CLIENT' && s.service === 'switchboard');
    for (const s of [
      verify,
      commit,
      processing,
      handler,
      stored,
      run,
      serverCall,
      upstreamCall,
      dispatch,
      post,
    ]) {
      expect(s.traceId, s.name).toBe(trace);
    }
    expect(parentOf(verify)).toBe(ingress);
    expect(parentOf(commit)).toBe(ingress);
    expect(processing).toMatchObject({ kind: 'CONSUMER' });
    expect(parentOf(processing)).toBe(ingress);
    expect(processing.attributes).toMatchObject({
      'switchboard.delivery.id': deliveryId,
      'switchboard.integration': 'hooks',
      'switchboard.attempt': 1,
      'switchboard.tasks': 1,
    });
    expect(parentOf(handler)).toBe(processing);
    expect(handler).toMatchObject({ kind: 'CLIENT' });
    expect(parentOf(stored)).toBe(processing);
    expect(parentOf(run)).toBe(processing);
    expect(run.attributes).toMatchObject({
      'switchboard.task.id': taskId,
      'switchboard.profile': 'scripted',
      'switchboard.attempt': 1,
    });
    expect(run.attributes['switchboard.queue.wait_ms']).toBeGreaterThanOrEqual(0);
    // The agent got TRACEPARENT and sent it in the call's _meta: the gateway's span is its child.
    expect(parentOf(serverCall)).toBe(run);
    expect(serverCall).toMatchObject({ kind: 'SERVER' });
    expect(serverCall.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'github__get_pr',
      'switchboard.task.id': taskId,
    });
    expect(parentOf(upstreamCall)).toBe(serverCall);
    expect(upstreamCall).toMatchObject({ kind: 'CLIENT' });
    expect(upstreamCall.attributes).toMatchObject({ 'switchboard.integration': 'github' });
    // The dispatch continues the run that ended the task, and its POST carries the trace on.
    expect(parentOf(dispatch)).toBe(run);
    expect(dispatch.attributes).toMatchObject({
      'switchboard.dispatch.type': 'webhook',
      'switchboard.task.id': taskId,
    });
    expect(parentOf(post)).toBe(dispatch);
    expect(post.attributes).toMatchObject({
      'server.address': '127.0.0.1',
      'http.response.status_code': 200,
    });
    expect(results.posts[0]!.headers.traceparent).toBe(`00-${trace}-${post.spanId}-01`);
    // The spans' timing nests: a child starts no earlier than its parent.
    for (const s of [processing, run, serverCall, upstreamCall, dispatch, post]) {
      expect(s.startNs >= parentOf(s)!.startNs, s.name).toBe(true);
    }

    // github continues the trace (the sdk's inToolCallSpan) and its GitHub API call is a child.
    const githubSpans = await receiver.waitFor(
      (all) => all.some((x) => x.service === 'github' && x.name === 'HTTP GET'),
      30_000,
    );
    const githubCall = githubSpans.find(
      (x) => x.service === 'github' && x.name === 'tools/call get_pr',
    );
    expect(githubCall).toMatchObject({
      kind: 'SERVER',
      traceId: trace,
      parentSpanId: upstreamCall.spanId,
    });
    const githubApi = githubSpans.find((x) => x.service === 'github' && x.name === 'HTTP GET');
    expect(githubApi).toMatchObject({
      kind: 'CLIENT',
      traceId: trace,
      parentSpanId: githubCall!.spanId,
    });
    expect(github.calls.some((c) => c.traceparent === `00-${trace}-${githubApi!.spanId}-01`)).toBe(
      true,
    );
    // The agent sends its TRACEPARENT as an HTTP header too: its /mcp requests join the trace.
    const mcpRequests = inTrace.filter((x) => x.name === 'POST /mcp');
    expect(mcpRequests.length).toBeGreaterThan(0);
    for (const request of mcpRequests) expect(parentOf(request)).toBe(run);
    flow.deliveryId = deliveryId;
    flow.taskId = taskId;
    flow.traceId = trace;

    // No secret of the flow in any span: tokens, signing secrets, the dispatch secret, the
    // admin key, the task's bearer tokens (JWTs), Authorization values.
    const text = JSON.stringify(
      receiver.spans.filter((x) => x.traceId === trace),
      (_k, v) => (typeof v === 'bigint' ? String(v) : v),
    );
    for (const secret of [
      GITHUB_TOKEN,
      HOOKS_SECRET,
      DISPATCH_SECRET,
      ADMIN_KEY,
      'Bearer ',
      'eyJ',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(receiver.rejected).toEqual([]);
    expect(receiver.requests.every((r) => r.contentType === 'application/x-protobuf')).toBe(true);
  }, 180_000);
  it('switchboard trace shows the same chain from the database, with the same trace id', async () => {
    expect(flow.traceId, 'the first test ran').not.toBe('');
    const shown = await runSwitchboard(['trace', flow.deliveryId], {
      SWITCHBOARD_URL: gw.url,
      SWITCHBOARD_API_KEY: ADMIN_KEY,
    });
    expect(shown.stderr).toBe('');
    expect(shown.code).toBe(0);
    const out = shown.stdout;
    expect(out).toMatch(
      /delivery hooks webhook github \(\S+\) done attempts 1\/\d+, handler: 1 trigger\(s\), 1 task\(s\)/,
    );
    expect(out).toContain(`trace ${flow.traceId}`);
    expect(out).toContain(`task ${flow.taskId} (scripted) complete`);
    expect(out).toMatch(/tool github\.get_pr ok/);
    expect(out).toMatch(/dispatch webhook \(outbox \d+\) delivered attempts 1\/\d+/);
    // Lines in time order, each at an offset from the delivery's arrival.
    const offsets = out
      .split('\n')
      .map((line) => /^ +\+(\d+\.\d{3})s/.exec(line)?.[1])
      .filter((o): o is string => o !== undefined)
      .map(Number);
    expect(offsets[0]).toBe(0);
    expect(offsets.length).toBeGreaterThanOrEqual(4);
    for (const secret of [GITHUB_TOKEN, HOOKS_SECRET, DISPATCH_SECRET])
      expect(out).not.toContain(secret);
  });

  it('/metrics after the flow: the webhook, the verified token, the tool call, the queues', async () => {
    expect(flow.traceId, 'the first test ran').not.toBe('');
    const res = await fetch(`${gw.url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    expect(
      value(
        'switchboard_webhook_requests_total{integration="hooks",outcome="accepted",reason="none"}',
      ),
    ).toBe(1);
    expect(
      value('switchboard_tool_calls_total{integration="github",tool="get_pr",outcome="ok"}'),
    ).toBe(1);
    expect(value('switchboard_tool_call_duration_seconds_count{integration="github"}')).toBe(1);
    expect(
      value('switchboard_token_verifications_total{outcome="accepted",reason="none"}'),
    ).toBeGreaterThan(0);
    expect(value('switchboard_integration_state{integration="github",state="ready"}')).toBe(1);
    for (const queue of ['tasks', 'webhook_deliveries', 'outbox']) {
      expect(value(`switchboard_queue_items{queue="${queue}",status="pending"}`), queue).toBe(0);
    }
    expect(value('switchboard_dead_letters{queue="outbox"}')).toBe(0);
  });
});
