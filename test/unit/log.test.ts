import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createLogger, logFormatFor } from '../../gateway/src/log.ts';
import { maskUrl } from '../../gateway/src/redact.ts';
import { captureLogs } from '../helpers/gateway.ts';

describe('logs', () => {
  it('redact Authorization, cookies and secret-named fields before writing', () => {
    const logs = captureLogs();
    const log = createLogger('info', logs.stream);
    log.info(
      {
        req: { headers: { authorization: 'Bearer sbk_SECRET1', cookie: 'sid=SECRET2', host: 'x' } },
        token: 'SECRET3',
        settings: { secret: 'SECRET4', password: 'SECRET5', region: 'eu' },
      },
      'request',
    );
    log.flush();
    const text = logs.text();
    for (const n of [1, 2, 3, 4, 5]) expect(text).not.toContain(`SECRET${n}`);
    const [line] = logs.lines;
    expect(line).toMatchObject({
      level: 'info',
      req: { headers: { authorization: '[redacted]', cookie: '[redacted]', host: 'x' } },
      token: '[redacted]',
      settings: { secret: '[redacted]', region: 'eu' },
    });
  });

  it('mask passwords in connection URLs', () => {
    expect(maskUrl('postgres://sb:pw@db:5432/sb')).toBe('postgres://sb:******@db:5432/sb');
    expect(maskUrl('postgres://db/sb')).toBe('postgres://db/sb');
    expect(maskUrl('not a url')).toBe('****** (9 characters)');
  });

  it('pretty: one readable line per entry, secrets redacted as in JSON', () => {
    const logs = captureLogs();
    const log = createLogger('info', logs.stream, 'pretty');
    log.info(
      {
        req: { headers: { authorization: 'Bearer sbk_SECRET1', host: 'x' } },
        token: 'SECRET3',
        settings: { secret: 'SECRET4', region: 'eu' },
        url: 'http://127.0.0.1:8080',
        reason: 'two words',
        count: 3,
      },
      'switchboard gateway listening',
    );
    log.flush();
    const text = logs.text();
    for (const n of [1, 3, 4]) expect(text).not.toContain(`SECRET${n}`);
    expect(text).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}switchboard gateway listening req=\{"headers":\{"authorization":"\[redacted\]","host":"x"\}\} token=\[redacted\] settings=\{"secret":"\[redacted\]","region":"eu"\} url=http:\/\/127\.0\.0\.1:8080 reason="two words" count=3\n$/,
    );
    // No ANSI colors unless asked for (a terminal).
    expect(text).not.toContain('\x1b[');
  });

  it('pretty: an error shows its message; its stack only at error level', () => {
    const logs = captureLogs();
    const log = createLogger('info', logs.stream, 'pretty', true);
    const error = new Error('connect ECONNREFUSED 127.0.0.1:7301');
    log.warn({ integration: 'chat', err: error }, 'upstream connect failed');
    log.error({ err: error }, 'request failed');
    log.flush();
    const [warn, error1, stack1] = logs.text().split('\n');
    // Colored for a terminal: the level, and keys and stacks dimmed.
    expect(warn).toContain('\x1b[33mWARN \x1b[0m upstream connect failed');
    expect(error1).toContain('\x1b[31mERROR\x1b[0m request failed');
    const plain = stripVTControlCharacters(logs.text()).split('\n');
    expect(plain[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} WARN {2}upstream connect failed integration=chat err="connect ECONNREFUSED 127.0.0.1:7301"$/,
    );
    expect(plain[1]).toMatch(/ERROR request failed err="connect ECONNREFUSED 127.0.0.1:7301"$/);
    expect(plain[2]).toMatch(/^ {4}at /);
    expect(stack1?.startsWith('\x1b[2m    at ')).toBe(true);
  });

  it('LOG_FORMAT auto is pretty on a terminal and JSON otherwise', () => {
    expect(logFormatFor('auto', { isTTY: true })).toBe('pretty');
    expect(logFormatFor('auto', { isTTY: false })).toBe('json');
    expect(logFormatFor('auto', {})).toBe('json');
    expect(logFormatFor('json', { isTTY: true })).toBe('json');
    expect(logFormatFor('pretty', {})).toBe('pretty');
  });
});
