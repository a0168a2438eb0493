/**
 * Issue 13 items 2 and 4: an upstream's answers are bounded (MAX_MESSAGE_BYTES, 10 MiB per
 * message) and exceeding the bound fails only the request it answered.
 *
 * Item 2 (stdio): a line of exactly 10 MiB followed by more bytes in the same write made the
 * SDK's read buffer throw inside the transport's 'data' listener, and the gateway exited; one
 * oversized result SIGKILLed the shared server, failing every other task's call on it.
 * Item 4 (HTTP): no cap at all: a 300 MB result went to the agent, and an SSE event that never
 * ended grew the gateway's memory by 1.5 GB within the request's timeout.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES } from '../../gateway/src/integrations/upstream/limits.ts';
import { REPO_ROOT, type TestGateway, useTestGateway } from '../helpers/gateway.ts';
import { hostileIntegrations, useHostileGateway } from '../helpers/hostile.ts';
import {
  eventually,
  grantTask,
  integrationOf,
  messagesOf,
  post,
  toolCall,
} from '../helpers/mcp-gateway.ts';

const MiB = 1024 * 1024;

/** One tools/call through /mcp/<integration>; its single JSON-RPC answer. */
async function call(
  gw: TestGateway,
  integration: string,
  name: string,
  args: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  const granted = await grantTask(gw, [`${integration}:*`]);
  const { url, token } = integrationOf(granted, integration);
  const res = await post(url, token, toolCall(1, name, args));
  const [answer] = messagesOf(res.headers.get('content-type'), await res.text());
  return answer!;
}

const textOf = (answer: Record<string, unknown>) =>
  (answer.result as { content: Array<{ text: string }> } | undefined)?.content[0]?.text;

/** The quiet integration still answers: the gateway is up and serving. */
async function expectQuietAnswers(gw: TestGateway): Promise<void> {
  expect(textOf(await call(gw, 'quiet', 'echo', { text: 'still here' }))).toBe('still here');
}

function hostileInstance(gw: () => TestGateway) {
  const instances = gw().registry.get('hostile')?.upstream?.status().instances ?? [];
  expect(instances).toHaveLength(1);
  return instances[0]!;
}

describe('stdio upstream: oversized lines', () => {
  const gw = useHostileGateway({ quiet: true });

  it('a line of exactly the cap followed by more bytes in the same write does not stop the gateway', async () => {
    const logged = gw().logs.lines.length;
    const answer = await call(gw(), 'hostile', 'huge_line', { bytes: MAX_MESSAGE_BYTES });
    // The line was a notification (no request's answer): the call itself is answered normally.
    expect(textOf(answer)).toBe(`wrote ${MAX_MESSAGE_BYTES}`);
    await expectQuietAnswers(gw());
    // Nothing was thrown anywhere (before the fix: 'ReadBuffer exceeded maximum size', uncaught).
    const errors = gw()
      .logs.lines.slice(logged)
      .filter((l) => l.level === 'error' || l.level === 'fatal');
    expect(errors).toEqual([]);
  });

  it('a line past the cap is skipped; the next message on the same write still arrives', async () => {
    const before = hostileInstance(gw);
    const answer = await call(gw(), 'hostile', 'huge_line', { bytes: 11 * MiB });
    expect(textOf(answer)).toBe(`wrote ${11 * MiB}`);
    // The same process: an oversized notification is dropped, not a reason to restart.
    expect(hostileInstance(gw)).toMatchObject({ pid: before.pid, restarts: before.restarts });
    await expectQuietAnswers(gw());
  });

  it('an oversized result fails only its own request; a concurrent call on the same instance succeeds', async () => {
    const before = hostileInstance(gw);
    const [huge, slept] = await Promise.all([
      call(gw(), 'hostile', 'huge_result', { bytes: 11 * MiB }),
      call(gw(), 'hostile', 'sleep', { ms: 1_500 }),
    ]);
    expect(huge.error).toMatchObject({
      message: `integration hostile: the server's answer exceeded ${MAX_MESSAGE_BYTES} bytes`,
      data: { code: 'upstream_too_large', integration: 'hostile', limit: MAX_MESSAGE_BYTES },
    });
    expect(textOf(slept)).toBe('slept 1500');
    expect(hostileInstance(gw)).toMatchObject({ pid: before.pid, restarts: before.restarts });
    // And the instance keeps answering afterwards.
    expect(textOf(await call(gw(), 'hostile', 'echo', { text: 'after' }))).toBe('after');
    expect(
      gw().logs.lines.some(
        (l) =>
          l.msg === 'upstream message too large' &&
          l.integration === 'hostile' &&
          l.limit === MAX_MESSAGE_BYTES,
      ),
    ).toBe(true);
  });
  it('a line that never ends is skipped without memory, and past 16× the cap its server is restarted', async () => {
    const before = hostileInstance(gw);
    const rss = process.memoryUsage().rss;
    const answer = await call(gw(), 'hostile', 'endless_line', { bytes: 200 * MiB });
    // Not answered and never will be: the server is stopped at 160 MiB, failing its calls.
    expect(answer.error).toMatchObject({ data: { code: 'upstream_unavailable' } });
    // 200 MiB went through the pipe; the gateway held at most one message's worth of it.
    expect(process.memoryUsage().rss - rss).toBeLessThan(100 * MiB);
    expect(textOf(await call(gw(), 'hostile', 'echo', { text: 'restarted' }))).toBe('restarted');
    expect(hostileInstance(gw).restarts).toBe(before.restarts + 1);
    expect(gw().logs.lines.map((l) => l.msg)).toContain(
      'upstream stopped: it keeps sending oversized messages',
    );
  });
});

describe('stdio upstream: a server that keeps answering oversized', () => {
  const gw = useHostileGateway({ quiet: true });

  it('is restarted at its 4th oversized answer within a minute; each failed alone', async () => {
    const before = hostileInstance(gw);
    for (let i = 1; i <= 3; i++) {
      const answer = await call(gw(), 'hostile', 'huge_result', { bytes: 11 * MiB });
      expect(answer.error).toMatchObject({ data: { code: 'upstream_too_large' } });
      expect(hostileInstance(gw)).toMatchObject({ pid: before.pid, restarts: before.restarts });
    }
    const fourth = await call(gw(), 'hostile', 'huge_result', { bytes: 11 * MiB });
    expect(fourth.error).toMatchObject({ data: { code: 'upstream_too_large' } });
    // Killed after its answer was failed: wait for the supervisor to see the exit.
    await eventually(() => expect(hostileInstance(gw).pid).not.toBe(before.pid));
    expect(textOf(await call(gw(), 'hostile', 'echo', { text: 'anew' }))).toBe('anew');
    expect(hostileInstance(gw).restarts).toBe(before.restarts + 1);
    await expectQuietAnswers(gw());
  });
});

/**
 * The hostile fixture's integrations (for the quiet copy) and hostilehttp beside them: a plain
 * node:http MCP server (test/fixtures/hostile-http) run as that integration's own process.
 */
function useHostileHttpGateway(): () => TestGateway {
  const { dirs, policy, root } = hostileIntegrations({ quiet: true });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.cpSync(path.join(REPO_ROOT, 'test/fixtures/hostile-http'), path.join(dirs, 'hostilehttp'), {
    recursive: true,
  });
  const text = fs.readFileSync(policy, 'utf8');
  fs.writeFileSync(
    policy,
    text.replace(
      'tokens:',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a policy placeholder, not JS.
      '  hostilehttp: { enabled: true, grants: [processes], allowUrls: ["http://127.0.0.1:${HOSTILE_HTTP_PORT}"] }\ntokens:',
    ),
  );
  return useTestGateway({ INTEGRATION_DIRS: dirs, SWITCHBOARD_POLICY: policy });
}

/** `fn`'s result and the most this process's RSS grew while it ran (sampled every 20 ms). */
async function peakRssGrowth<T>(fn: () => Promise<T>): Promise<{ result: T; grew: number }> {
  const start = process.memoryUsage().rss;
  let peak = start;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, grew: peak - start };
  } finally {
    clearInterval(sampler);
  }
}

describe('HTTP upstream: oversized answers', () => {
  const gw = useHostileHttpGateway();
  const tooLarge = {
    message: `integration hostilehttp: the server's answer exceeded ${MAX_MESSAGE_BYTES} bytes`,
    data: { code: 'upstream_too_large', integration: 'hostilehttp', limit: MAX_MESSAGE_BYTES },
  };

  it('serves the hostile HTTP server normally', async () => {
    expect(gw().registry.get('hostilehttp')?.state).toBe('ready');
    expect(textOf(await call(gw(), 'hostilehttp', 'echo', { text: 'hi' }))).toBe('hi');
  });

  it('a 30 MiB JSON body (chunked, no length) fails its request, and memory stays bounded', async () => {
    const { result, grew } = await peakRssGrowth(() =>
      call(gw(), 'hostilehttp', 'huge_json', { bytes: 30 * MiB }),
    );
    expect(result.error).toMatchObject(tooLarge);
    // At most the one message held (10 MiB) and what parsing costs: nowhere near 30 MiB × copies.
    expect(grew).toBeLessThan(200 * MiB);
    expect(textOf(await call(gw(), 'hostilehttp', 'echo', { text: 'next' }))).toBe('next');
    await expectQuietAnswers(gw());
  });

  it('a body whose Content-Length is past the limit is not read at all', async () => {
    const answer = await call(gw(), 'hostilehttp', 'sized_json', { bytes: 300 * MiB });
    expect(answer.error).toMatchObject(tooLarge);
    expect(textOf(await call(gw(), 'hostilehttp', 'echo', { text: 'after' }))).toBe('after');
  });

  it('an SSE event that never ends is cut at the limit: its request fails, memory stays bounded', async () => {
    const { result, grew } = await peakRssGrowth(() => call(gw(), 'hostilehttp', 'endless_sse'));
    expect(result.error).toMatchObject(tooLarge);
    expect(grew).toBeLessThan(200 * MiB);
    expect(textOf(await call(gw(), 'hostilehttp', 'echo', { text: 'still' }))).toBe('still');
    await expectQuietAnswers(gw());
    const logged = gw().logs.lines.filter(
      (l) => l.msg === 'upstream message too large' && l.integration === 'hostilehttp',
    );
    expect(logged.map((l) => [l.what, l.limit])).toEqual([
      ['body', MAX_MESSAGE_BYTES],
      ['body', MAX_MESSAGE_BYTES],
      ['sse event', MAX_MESSAGE_BYTES],
    ]);
  });
});
