import { describe, expect, it } from 'vitest';
import { boundResponse } from '../../gateway/src/integrations/upstream/http-bounds.ts';
import {
  LineSplitter,
  type SkippedLine,
} from '../../gateway/src/integrations/upstream/line-splitter.ts';
import { answeredId } from '../../gateway/src/integrations/upstream/oversized.ts';
import { createLogger } from '../../gateway/src/log.ts';

// The pieces behind test/security/upstream-bounds.test.ts (issue 13 items 2 and 4), on inputs
// cut where a pipe or a socket may cut them.

function split(max: number, chunks: string[]) {
  const out: { lines: string[]; overflowed: SkippedLine[]; skipped: SkippedLine[] } = {
    lines: [],
    overflowed: [],
    skipped: [],
  };
  const splitter = new LineSplitter(max, {
    line: (line) => out.lines.push(line.toString()),
    overflowed: (line) => out.overflowed.push({ ...line }),
    skipping: () => {},
    skipped: (line) => out.skipped.push({ ...line }),
  });
  for (const chunk of chunks) splitter.push(Buffer.from(chunk));
  return out;
}

describe('LineSplitter', () => {
  it('joins lines cut across chunks and drops a trailing CR', () => {
    expect(split(100, ['ab', 'c\r\nde', 'f\n\ng', 'h\n']).lines).toEqual(['abc', 'def', '', 'gh']);
  });

  it('skips a line past the bound, keeping its ends, and goes on with the next in the same chunk', () => {
    const long = `HEAD${'x'.repeat(1_000)}TAIL`;
    const out = split(100, [long.slice(0, 50), `${long.slice(50)}\n{"ok":1}\n`]);
    expect(out.lines).toEqual(['{"ok":1}']);
    expect(out.overflowed).toHaveLength(1);
    expect(out.skipped).toHaveLength(1);
    expect(out.skipped[0]!.bytes).toBe(long.length);
    expect(out.skipped[0]!.head.toString().startsWith('HEAD')).toBe(true);
    expect(out.skipped[0]!.tail.toString().endsWith('TAIL')).toBe(true);
  });

  it('accepts a line of exactly the bound', () => {
    expect(split(5, ['abc', 'de\nf\n']).lines).toEqual(['abcde', 'f']);
  });
});

describe('answeredId', () => {
  const b = (s: string) => Buffer.from(s);
  it('reads the id of an answer, first or last', () => {
    expect(answeredId(b('{"jsonrpc":"2.0","id":7,"result":{"content":[{"te'))).toBe(7);
    expect(answeredId(b('{"id":"a-1","jsonrpc":"2.0","error":{"code"'))).toBe('a-1');
    expect(
      answeredId(b('{"result":{"content":[{"text":"yy'), b('yyyy"}]},"jsonrpc":"2.0","id":12}')),
    ).toBe(12);
  });

  it('never takes the id of a request or a notification of the server', () => {
    expect(
      answeredId(b('{"jsonrpc":"2.0","id":3,"method":"sampling/createMessage"')),
    ).toBeUndefined();
    expect(
      answeredId(b('{"method":"notifications/message","params":{"data":"'), b('"},"id":4}')),
    ).toBeUndefined();
    // An id nested inside a result is not the answer's.
    expect(answeredId(b('{"result":{"a":"'), b('x","b":{"id":5}}}'))).toBeUndefined();
  });
});

describe('boundResponse', () => {
  const log = createLogger('silent');
  const sse = (body: string) =>
    new Response(body, { headers: { 'content-type': 'text/event-stream' } });

  it('passes SSE events within the limit and cuts the first one past it, answering its request', async () => {
    const small = 'event: message\ndata: {"a":1}\n\n';
    const bounded = boundResponse(
      sse(`${small}data: ${'z'.repeat(500)}`),
      9,
      { integration: 'x', log },
      100,
    );
    const text = await bounded.text();
    expect(text.startsWith(small)).toBe(true);
    expect(text).not.toContain('z'.repeat(100));
    expect(text).toContain('event: switchboard-dropped\n\n');
    expect(text).toContain('"id":9');
    expect(text).toContain('upstream_too_large');
  });

  it('holds a JSON body up to the limit, and past it answers with the error instead', async () => {
    const json = (body: string) =>
      new Response(body, { headers: { 'content-type': 'application/json' } });
    const ok = boundResponse(
      json('{"jsonrpc":"2.0","id":1,"result":{}}'),
      1,
      { integration: 'x', log },
      100,
    );
    expect(await ok.json()).toEqual({ jsonrpc: '2.0', id: 1, result: {} });
    const over = boundResponse(
      json(`{"r":"${'q'.repeat(500)}"}`),
      2,
      { integration: 'x', log },
      100,
    );
    expect(await over.json()).toMatchObject({
      id: 2,
      error: { data: { code: 'upstream_too_large' } },
    });
  });
});
