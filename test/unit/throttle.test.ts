import { describe, expect, it } from 'vitest';
import { Throttle } from '../../gateway/src/throttle.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Throttle', () => {
  it('folds 10,000 kicks into the first call and one trailing call', async () => {
    let calls = 0;
    const throttle = new Throttle(
      200,
      () => {
        calls += 1;
      },
      () => {},
    );
    for (let n = 0; n < 10_000; n++) throttle.kick();
    expect(calls).toBe(1);
    // Generous: the trailing call is due 200 ms after the first.
    await sleep(1_000);
    expect(calls).toBe(2);
    expect(throttle.folded).toBe(9_999);
    throttle.stop();
  });

  it('reports a throwing call and keeps going; nothing fires after stop()', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const throttle = new Throttle(
      50,
      () => {
        calls += 1;
        throw new Error('listener broke');
      },
      (error) => errors.push(error),
    );
    throttle.kick();
    throttle.kick();
    await sleep(500);
    expect(calls).toBe(2);
    expect(errors).toHaveLength(2);
    throttle.kick();
    throttle.kick();
    throttle.stop();
    await sleep(300);
    expect(calls).toBe(3);
  });
});
