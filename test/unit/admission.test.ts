/**
 * Load shedding's decisions (gateway/src/http/admission.ts) and its settings (config.ts): the
 * event-loop signal needs two late samples in a row (one long pause is not overload) and clears
 * with the first sample on time; the concurrency signal counts only requests that do work; the
 * variables' defaults and their validation at boot. The HTTP path: test/integration/overload.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../gateway/src/config.ts';
import { ConfigError } from '../../gateway/src/errors.ts';
import { Admission, SAMPLE_MS } from '../../gateway/src/http/admission.ts';

const block = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until) {}
};
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Admission', () => {
  let admission: Admission | undefined;
  afterEach(() => admission?.close());

  it('sheds on the event loop only after two late samples in a row, and stops once one is on time', async () => {
    admission = new Admission({ maxConcurrent: 0, maxEventLoopDelayMs: 400 });
    await tick(SAMPLE_MS * 2);
    block(1000);
    await tick(0);
    // One late sample: a pause, not overload (1 s blocks against 400 ms: far past what a busy
    // machine adds to a 50 ms timer).
    expect(admission.shedReason(false)).toBeUndefined();
    block(1000);
    await tick(0);
    await tick(0);
    expect(admission.shedReason(false)).toBe('event_loop');
    expect(admission.delayMs).toBeGreaterThan(400);
    // A loaded machine may run a sample late again: the first one on time clears it.
    await expect.poll(() => admission?.shedReason(false)).toBeUndefined();
  });

  it('counts requests that do work against the limit; 0 is no limit', () => {
    admission = new Admission({ maxConcurrent: 2, maxEventLoopDelayMs: 0 });
    admission.inFlight = 2;
    expect(admission.shedReason(true)).toBe('concurrency');
    expect(admission.shedReason(false)).toBeUndefined();
    admission.close();
    admission = new Admission({ maxConcurrent: 0, maxEventLoopDelayMs: 0 });
    admission.inFlight = 1_000_000;
    expect(admission.shedReason(true)).toBeUndefined();
  });
});

describe('load shedding settings', () => {
  it('default to 512 concurrent requests and 500 ms of event-loop delay', () => {
    const config = loadConfig({}, '/srv/app');
    expect(config.maxConcurrentRequests).toBe(512);
    expect(config.shedEventLoopDelayMs).toBe(500);
  });

  it('take 0 (off) and whole numbers; refuse the rest at boot, naming the variable', () => {
    const config = loadConfig(
      { SWITCHBOARD_MAX_CONCURRENT_REQUESTS: '0', SWITCHBOARD_SHED_EVENT_LOOP_DELAY_MS: '0' },
      '/srv/app',
    );
    expect(config.maxConcurrentRequests).toBe(0);
    expect(config.shedEventLoopDelayMs).toBe(0);
    for (const [name, value] of [
      ['SWITCHBOARD_MAX_CONCURRENT_REQUESTS', 'lots'],
      ['SWITCHBOARD_MAX_CONCURRENT_REQUESTS', '-1'],
      ['SWITCHBOARD_MAX_CONCURRENT_REQUESTS', '2000000'],
      ['SWITCHBOARD_SHED_EVENT_LOOP_DELAY_MS', '10'],
      ['SWITCHBOARD_SHED_EVENT_LOOP_DELAY_MS', '1.5'],
    ] as const) {
      expect(() => loadConfig({ [name]: value }, '/srv/app'), `${name}=${value}`).toThrow(
        ConfigError,
      );
      try {
        loadConfig({ [name]: value }, '/srv/app');
      } catch (error) {
        expect(String((error as Error).message)).toContain(name);
      }
    }
  });
});
