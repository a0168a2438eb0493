/**
 * The egress proxy's pure parts: the resolver override list (curl --connect-to style) with its
 * errors naming the entry, the lookup preferring an override, and the stateless proxy
 * credentials (one integration's password never proves another name).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { identify, proxyCredentials } from '../../gateway/src/egress/credentials.ts';
import { createLookup, parseResolveOverrides } from '../../gateway/src/egress/resolve.ts';

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

describe('parseResolveOverrides', () => {
  it('reads host[:port]=address[:port] entries, IPv6 in brackets', () => {
    expect(
      parseResolveOverrides(
        'api.github.com:443=127.0.0.1:40001, API.OpenWeatherMap.org.=127.0.0.1,v6.test=[::1]:8443,,',
      ),
    ).toEqual([
      {
        host: 'api.github.com',
        port: 443,
        address: { address: '127.0.0.1', family: 4 },
        toPort: 40001,
      },
      {
        host: 'api.openweathermap.org',
        port: undefined,
        address: { address: '127.0.0.1', family: 4 },
        toPort: undefined,
      },
      { host: 'v6.test', port: undefined, address: { address: '::1', family: 6 }, toPort: 8443 },
    ]);
  });

  it.each([
    ['api.github.com', 'no "="'],
    ['api.github.com=github.com', '"github.com" is not an IP address'],
    ['api.github.com:99999=127.0.0.1', '"99999" is not a port'],
    ['api.github.com=127.0.0.1:0', '"0" is not a port'],
    ['a=::1', 'the target is not address or address:port'],
    ['bad host=127.0.0.1', '"bad host" is not a host name'],
  ])('%s: %s', (text, expected) => {
    expect(() => parseResolveOverrides(text)).toThrow(`resolve override "${text}": ${expected}`);
  });

  it('the lookup prefers an override for the port, then the host, and takes literals as they are', async () => {
    const lookup = createLookup(parseResolveOverrides('a.test:443=10.0.0.1:1443,a.test=10.0.0.2'));
    expect(await lookup('a.test', 443)).toEqual({
      addresses: [{ address: '10.0.0.1', family: 4 }],
      port: 1443,
    });
    expect(await lookup('A.test.', 80)).toEqual({
      addresses: [{ address: '10.0.0.2', family: 4 }],
      port: 80,
    });
    expect(await lookup('[::1]', 80)).toEqual({
      addresses: [{ address: '::1', family: 6 }],
      port: 80,
    });
  });
});

describe('proxy credentials', () => {
  const secret = randomBytes(32);

  it('round-trips the integration and the task', () => {
    const a = proxyCredentials(secret, 'github');
    const b = proxyCredentials(secret, 'github', '0b6e7f3c-2a40-4b8e-9d1a-5f0c2e7a9b12');
    expect(identify(secret, basic(a.username, a.password))).toEqual({ integration: 'github' });
    expect(identify(secret, basic(b.username, b.password))).toEqual({
      integration: 'github',
      taskId: '0b6e7f3c-2a40-4b8e-9d1a-5f0c2e7a9b12',
    });
  });

  it('refuses another name, another secret, malformed and over-long headers', () => {
    const a = proxyCredentials(secret, 'github');
    expect(identify(secret, basic('weather', a.password))).toBeUndefined();
    expect(identify(randomBytes(32), basic(a.username, a.password))).toBeUndefined();
    expect(identify(secret, undefined)).toBeUndefined();
    expect(identify(secret, `Basic ${'A'.repeat(600)}`)).toBeUndefined();
    expect(identify(secret, 'Basic !!!')).toBeUndefined();
    expect(() => proxyCredentials(secret, 'Bad_Name')).toThrow(TypeError);
    expect(() => proxyCredentials(secret, 'github', '1a')).toThrow(TypeError);
    // Task ids are UUIDs (tasks.id): a digit id (the first version's rule) names no task.
    expect(() => proxyCredentials(secret, 'github', '12')).toThrow(TypeError);
    // One task's password does not vouch for another task of the same integration.
    const taskA = proxyCredentials(secret, 'github', '0b6e7f3c-2a40-4b8e-9d1a-5f0c2e7a9b12');
    expect(
      identify(secret, basic('github+0b6e7f3c-2a40-4b8e-9d1a-5f0c2e7a9b13', taskA.password)),
    ).toBeUndefined();
  });
});
