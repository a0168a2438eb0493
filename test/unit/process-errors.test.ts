/**
 * What `switchboard start` does with an error nothing caught (gateway/src/process-errors.ts):
 * fatal while booting, logged (bounded) and counted once serving. The real process, with
 * faults thrown inside requests, is test/security/request-guards.test.ts.
 */
import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../gateway/src/log.ts';
import { LOGGED_PER_WINDOW, ProcessErrors, WINDOW_MS } from '../../gateway/src/process-errors.ts';
import { captureLogs } from '../helpers/gateway.ts';

function setUp() {
  const logs = captureLogs();
  const fatal: unknown[] = [];
  let now = 1_000_000;
  const errors = new ProcessErrors(
    (_kind, error) => fatal.push(error),
    () => now,
  );
  errors.setLogger(createLogger('debug', logs.stream));
  const counter = new Counter({
    name: 'switchboard_unhandled_errors_total',
    help: 'test',
    labelNames: ['kind'] as const,
    registers: [new Registry()],
  });
  const count = async (kind: string) =>
    (await counter.get()).values.find((v) => v.labels.kind === kind)?.value ?? 0;
  return { logs, fatal, errors, counter, count, advance: (ms: number) => (now += ms) };
}

describe('errors nothing caught', () => {
  it('are fatal while booting, logged and counted once serving', async () => {
    const { logs, fatal, errors, counter, count } = setUp();
    errors.handle('exception', new Error('during boot'));
    expect(fatal).toHaveLength(1);
    errors.serving(counter);
    errors.handle('exception', new Error('in a listener'));
    errors.handle('rejection', new Error('nobody awaited me'));
    expect(fatal).toHaveLength(1);
    expect(await count('exception')).toBe(1);
    expect(await count('rejection')).toBe(1);
    expect(logs.lines.map((l) => [l.level, l.msg, (l.err as { message: string }).message])).toEqual(
      [
        ['error', 'uncaught exception', 'in a listener'],
        ['error', 'unhandled rejection', 'nobody awaited me'],
      ],
    );
  });

  it(`log at most ${LOGGED_PER_WINDOW} whole per window, count every one, and say how many were left out`, async () => {
    const { logs, errors, counter, count, advance } = setUp();
    errors.serving(counter);
    for (let i = 0; i < 100; i++) errors.handle('exception', new Error(`flood ${i}`));
    expect(await count('exception')).toBe(100);
    expect(logs.lines.filter((l) => l.msg === 'uncaught exception')).toHaveLength(
      LOGGED_PER_WINDOW,
    );
    advance(WINDOW_MS);
    errors.handle('exception', new Error('next window'));
    const lines = logs.lines;
    expect(
      lines.find((l) => l.msg === 'more unhandled errors were counted but not logged'),
    ).toMatchObject({ dropped: 100 - LOGGED_PER_WINDOW });
    expect(lines.at(-1)).toMatchObject({
      msg: 'uncaught exception',
      err: { message: 'next window' },
    });
  });

  it('a database connection lost while it was set up is no error (postgres.js drops that promise)', async () => {
    const { fatal, errors, count, logs } = setUp();
    const lost = Object.assign(new Error('read ECONNRESET'), {
      code: 'ECONNRESET',
      query: 'select b.oid, b.typarray from pg_catalog.pg_type',
    });
    errors.handle('rejection', lost);
    expect(fatal).toEqual([]);
    expect(await count('rejection')).toBe(0);
    expect(logs.lines.map((l) => l.msg)).toEqual([
      'a database connection was lost while it was set up',
    ]);
  });
});
