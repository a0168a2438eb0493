import { describe, expect, it } from 'vitest';
import { MAX_NOTIFY_BYTES } from '../../gateway/src/db/bus.ts';
import { decodeNotices, encodeNotices } from '../../gateway/src/events/task-events.ts';

const id = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

describe('task event notices', () => {
  it('carry the newest seq per task', () => {
    const payloads = encodeNotices([
      { taskId: id(1), seq: '7' },
      { taskId: id(2), seq: '8' },
      { taskId: id(1), seq: '9' },
    ]);
    expect(payloads).toEqual([`${id(1)} 9\n${id(2)} 8`]);
    expect(decodeNotices(payloads[0]!)).toEqual([
      { taskId: id(1), seq: '9' },
      { taskId: id(2), seq: '8' },
    ]);
  });

  it('split into payloads under the NOTIFY limit, losing no task', () => {
    const notices = Array.from({ length: 1000 }, (_, i) => ({ taskId: id(i), seq: `${1e15 + i}` }));
    const payloads = encodeNotices(notices);
    expect(payloads.length).toBeGreaterThan(1);
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(MAX_NOTIFY_BYTES);
    expect(payloads.flatMap(decodeNotices)).toEqual(notices);
    expect(encodeNotices([])).toEqual([]);
  });

  it('drop lines that do not parse', () => {
    expect(decodeNotices(`garbage\n${id(3)} 12\n${id(4)} -1\n{"json":1}`)).toEqual([
      { taskId: id(3), seq: '12' },
    ]);
  });
});
