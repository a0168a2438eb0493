import { describe, expect, it } from 'vitest';
import { createLogger } from '../../gateway/src/log.ts';
import { callBounds } from '../../gateway/src/mcp/call-bounds.ts';

const log = createLogger('silent');

function bounds(signal: AbortSignal, maxCallMs: number) {
  return callBounds({
    integration: 'demo',
    signal,
    progressToken: undefined,
    notify: async () => {},
    maxCallMs,
    log,
  });
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('callBounds', () => {
  it('aborts at the deadline, and names it in the failure', async () => {
    const b = bounds(new AbortController().signal, 20);
    const { signal } = b.options(60_000);
    expect(signal?.aborted).toBe(false);
    await tick(60);
    expect(signal?.aborted).toBe(true);
    expect((signal?.reason as DOMException | undefined)?.name).toBe('TimeoutError');
    const failure = b.failure(new Error('aborted')) as { message: string };
    expect(failure.message).toMatch(/ran past its deadline \(0\.02 s/);
    b.finish();
  });

  it("follows the agent's signal with its reason; its failure stays the SDK's", async () => {
    const agent = new AbortController();
    const b = bounds(agent.signal, 60_000);
    const { signal } = b.options(60_000);
    agent.abort('cancelled');
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe('cancelled');
    const error = new Error('aborted');
    expect(b.failure(error)).toBe(error);
    b.finish();
  });

  it('a deadline past the longest timer (597h and more) does not fire at once', async () => {
    // 600h = 2,160,000,000 ms > 2^31 - 1: Node fires such a timer after 1 ms (so did
    // AbortSignal.timeout), which failed every call of such a policy at once.
    const b = bounds(new AbortController().signal, 600 * 3_600_000);
    const { signal, timeout } = b.options(60_000);
    await tick(30);
    expect(signal?.aborted).toBe(false);
    expect(timeout).toBe(60_000);
    b.finish();
  });

  it('an already aborted agent signal aborts the call at once', () => {
    const agent = new AbortController();
    agent.abort('gone');
    const { signal } = bounds(agent.signal, 60_000).options(1_000);
    expect(signal?.reason).toBe('gone');
  });
});
