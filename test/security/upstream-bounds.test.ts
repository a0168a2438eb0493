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
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES } from '../../gateway/src/integrations/upstream/limits.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { useHostileGateway } from '../helpers/hostile.ts';
import { grantTask, integrationOf, messagesOf, post, toolCall } from '../helpers/mcp-gateway.ts';

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
    const answer = await call(gw(), 'hostile', 'huge_line', { bytes: MAX_MESSAGE_BYTES });
    // The line was a notification (no request's answer): the call itself is answered normally.
    expect(textOf(answer)).toBe(`wrote ${MAX_MESSAGE_BYTES}`);
    await expectQuietAnswers(gw());
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
          l.msg === 'upstream answer too large' &&
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
