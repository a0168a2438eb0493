import { describe, expect, it } from 'vitest';
import { createLogger } from '../../gateway/src/log.ts';
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
});
