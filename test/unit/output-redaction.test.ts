import { describe, expect, it } from 'vitest';
import { STDOUT_TAIL_MAX, Tail } from '../../gateway/src/runners/runner.ts';
import { outputRedactor } from '../../gateway/src/tasks/output-redaction.ts';

// The redactor the task worker runs over an agent's recorded output (issue 15): every
// occurrence of a profile secret's value, longer values first, a multi-line value line by line,
// and the end of a value that the 64 KiB stdout tail cut in two.
const KEY = 'sk-ant-api03-unit-test-value-0123456789';

describe('outputRedactor', () => {
  it('replaces every occurrence of every value with its name', () => {
    const r = outputRedactor({
      ANTHROPIC_API_KEY: KEY,
      OPENAI_BASE_URL: 'https://models.example/v1',
    });
    expect(r.line(`a=${KEY} b=${KEY} url=https://models.example/v1/chat`)).toBe(
      'a=[redacted ANTHROPIC_API_KEY] b=[redacted ANTHROPIC_API_KEY] url=[redacted OPENAI_BASE_URL]/chat',
    );
    expect(r.line('nothing secret here')).toBe('nothing secret here');
  });

  it('removes a value that contains another one whole (longest first)', () => {
    const r = outputRedactor({ SHORT_KEY: 'abcdefgh', LONG_KEY: 'abcdefgh-and-more' });
    expect(r.line('x abcdefgh-and-more y abcdefgh')).toBe(
      'x [redacted LONG_KEY] y [redacted SHORT_KEY]',
    );
  });

  it('removes each line of a multi-line value, leaving short lines of it alone', () => {
    const pem = '-----BEGIN-----\nMIIBVwIBADANBgkqhkiG9w0B\n\nAT0wggE5AgEAAkEAq7\n-----END-----';
    const r = outputRedactor({ PEM: pem });
    expect(pem.split('\n').map((l) => r.line(l))).toEqual([
      '[redacted PEM]',
      '[redacted PEM]',
      '',
      '[redacted PEM]',
      '[redacted PEM]',
    ]);
  });

  it('removes the end of a value that the stdout tail cut in two', () => {
    const r = outputRedactor({ ANTHROPIC_API_KEY: KEY });
    // The real 64 KiB tail: the second line leaves room for the last 19 characters of the key.
    const tail = new Tail();
    tail.push(`leaked ${KEY}`);
    tail.push('y'.repeat(STDOUT_TAIL_MAX - 20));
    const cut = tail.toString();
    expect(cut.startsWith(KEY.slice(-19))).toBe(true);
    const redacted = r.tail(cut);
    expect(redacted.startsWith('[redacted ANTHROPIC_API_KEY]\ny')).toBe(true);
    expect(redacted).not.toContain(KEY.slice(-19, -8));
    // Under 8 characters of a value is no longer told apart from other text.
    expect(r.tail(`${KEY.slice(-5)} rest`)).toBe(`${KEY.slice(-5)} rest`);
  });
});
