import { describe, expect, it } from 'vitest';
import { PROGRESS_BURST, ProgressGate } from '../../gateway/src/mcp/progress-gate.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ProgressGate', () => {
  it('passes a short sequence untouched', () => {
    const sent: number[] = [];
    const gate = new ProgressGate<number>(
      (p) => sent.push(p),
      () => {},
    );
    for (let n = 1; n <= 5; n++) gate.offer(n);
    expect(sent).toEqual([1, 2, 3, 4, 5]);
    gate.close();
    expect(gate.dropped).toBe(0);
  });

  it('sends the burst, then the latest at the rate, in order; drops the rest and counts them', async () => {
    const sent: number[] = [];
    const gate = new ProgressGate<number>(
      (p) => sent.push(p),
      () => {},
    );
    for (let n = 1; n <= 10_000; n++) gate.offer(n);
    expect(sent).toHaveLength(PROGRESS_BURST);
    // Generous: one more is due ~100 ms later, the latest offered.
    await sleep(500);
    expect(sent.at(-1)).toBe(10_000);
    expect(sent.length).toBeLessThanOrEqual(PROGRESS_BURST + 1);
    expect([...sent].sort((a, b) => a - b)).toEqual(sent);
    // The bucket refilled meanwhile (≤ 10): 20 more exhaust it and leave the last one pending.
    for (let n = 10_001; n <= 10_020; n++) gate.offer(n);
    gate.close();
    await sleep(300);
    expect(sent).not.toContain(10_020);
    expect(gate.dropped).toBe(10_020 - sent.length);
  });

  it('a throwing send is reported, never thrown', () => {
    const errors: unknown[] = [];
    const gate = new ProgressGate<number>(
      () => {
        throw new Error('stream gone');
      },
      (error) => errors.push(error),
    );
    expect(() => gate.offer(1)).not.toThrow();
    expect(errors).toHaveLength(1);
    gate.close();
  });
});
