import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SwitchboardError } from '../../gateway/src/errors.ts';
import {
  addressClass,
  hostAllowed,
  isForbiddenAddress,
  parseTarget,
} from '../../gateway/src/net/ssrf.ts';
import { isPostFailure } from '../../gateway/src/outbox/errors.ts';
import {
  DEFAULT_MAX_REDIRECTS,
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_TIMEOUT_MS,
  type PostOptions,
  parseRetryAfter,
  postJson,
  type ResolvedAddress,
} from '../../gateway/src/outbox/http-post.ts';
import { generateWebhookSecret, signedHeaders } from '../../gateway/src/outbox/sign.ts';

/**
 * Issue 6: the outbound client of built-in webhook dispatches and event subscriptions refuses
 * private, loopback and link-local targets before connecting (every hop, names included), unless
 * policy dispatch.allowHosts lists the host. Only local servers on 127.0.0.1 are contacted; the
 * other addresses are refused before any socket exists, so nothing leaves the machine.
 */

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface TestServer {
  port: number;
  seen: Seen[];
  url: string;
}

const servers: http.Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A server on 127.0.0.1 that records every request; `answer` may leave it unanswered. */
async function serve(
  answer: (req: Seen, res: http.ServerResponse) => void = (_req, res) => res.end('{"ok":true}'),
): Promise<TestServer> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const record = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      seen.push(record);
      answer(record, res);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { port, seen, url: `http://127.0.0.1:${port}/` };
}

/** A resolver for made-up names; records what it was asked. */
function fakeDns(table: Record<string, string[]>) {
  const asked: string[] = [];
  const lookup = async (hostname: string): Promise<ResolvedAddress[]> => {
    asked.push(hostname);
    const addresses = table[hostname];
    if (!addresses)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return { lookup, asked };
}

async function refusal(options: PostOptions): Promise<SwitchboardError> {
  const error = await postJson(options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isPostFailure(error)).toBe(true);
  return error as SwitchboardError;
}

const body = JSON.stringify({ event: 'task:done', task: 't-1' });

describe('isForbiddenAddress: every non-public range is refused, public unicast allowed', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['169.254.0.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['100.64.0.1', 'shared'],
    ['100.127.255.255', 'shared'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.255', 'multicast'],
    ['ff02::1', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['2001:db8::1', 'reserved'],
    ['::127.0.0.1', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['0:0:0:0:0:ffff:a9fe:a9fe', 'link-local'],
    ['::ffff:10.0.0.1', 'private'],
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['2002:a9fe:a9fe::1', 'link-local'],
    ['2001:0:4136:e378::1', 'reserved'],
    ['not an ip', 'invalid'],
  ])('%s is %s', (ip, kind) => {
    expect(addressClass(ip)).toBe(kind);
    expect(isForbiddenAddress(ip)).toBe(true);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '172.32.0.1',
    '100.128.0.1',
    '169.255.0.1',
    '2606:4700::1111',
    '2a00:1450:4001::200e',
    '::ffff:8.8.8.8',
    '2002:0808:0808::1',
  ])('%s is public', (ip) => {
    expect(isForbiddenAddress(ip)).toBe(false);
  });
});

describe('hostAllowed: host entries allow every port, host:port entries one port', () => {
  it('matches a host, host:port with an explicit port, and the scheme default port', () => {
    expect(hostAllowed(new URL('http://hooks.local:9000/x'), ['hooks.local'])).toBe(true);
    expect(hostAllowed(new URL('http://hooks.local:9000/x'), ['hooks.local:9000'])).toBe(true);
    expect(hostAllowed(new URL('http://hooks.local:9001/x'), ['hooks.local:9000'])).toBe(false);
    expect(hostAllowed(new URL('http://hooks.local/x'), ['hooks.local:80'])).toBe(true);
    expect(hostAllowed(new URL('https://hooks.local/x'), ['hooks.local:443'])).toBe(true);
    expect(hostAllowed(new URL('https://hooks.local/x'), ['hooks.local:80'])).toBe(false);
    expect(hostAllowed(new URL('http://HOOKS.local./'), ['hooks.local'])).toBe(true);
    expect(hostAllowed(new URL('http://a.hooks.local/'), ['hooks.local'])).toBe(false);
    expect(hostAllowed(new URL('http://127.0.0.1:8080/'), ['127.0.0.1'])).toBe(true);
  });
});

describe('postJson refuses forbidden targets before connecting (ssrf_refused)', () => {
  it('a literal 127.0.0.1 URL: refused, the server saw nothing', async () => {
    const server = await serve();
    const error = await refusal({ url: `${server.url}hook?token=s3cret`, body, allowHosts: [] });
    expect(error.code).toBe('ssrf_refused');
    expect(error.retryable).toBe(false);
    expect(error.message).toBe(
      `refused http://127.0.0.1:${server.port}/: 127.0.0.1 is a loopback address (allow the host in policy dispatch.allowHosts)`,
    );
    expect(error.message).not.toContain('s3cret');
    expect(server.seen).toEqual([]);
  });

  it.each([
    ['http://10.0.0.1/hook', '10.0.0.1 is a private address'],
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254 is a link-local address'],
    ['http://[::1]:8080/', '::1 is a loopback address'],
    ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1 is a loopback address'],
    ['http://[::ffff:7f00:1]/', '::ffff:7f00:1 is a loopback address'],
    ['http://0x7f.1/', '127.0.0.1 is a loopback address'],
    ['http://2130706433/', '127.0.0.1 is a loopback address'],
    ['http://0.0.0.0/', '0.0.0.0 is an unspecified address'],
  ])('a literal %s: refused', async (url, why) => {
    const error = await refusal({ url, body, allowHosts: [], timeoutMs: 2000 });
    expect(error.code).toBe('ssrf_refused');
    expect(error.message).toContain(why);
  });

  it.each([
    ['127.0.0.1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['169.254.169.254', 'link-local'],
  ])('a name resolving to %s: refused, the server saw nothing', async (address, kind) => {
    const server = await serve();
    const dns = fakeDns({ 'evil.example': [address] });
    const error = await refusal({
      url: `http://evil.example:${server.port}/`,
      body,
      allowHosts: ['127.0.0.1'],
      lookup: dns.lookup,
    });
    expect(error.code).toBe('ssrf_refused');
    expect(error.message).toBe(
      `refused http://evil.example:${server.port}/: evil.example resolves to ${address}, which is a ${kind} address (allow the host in policy dispatch.allowHosts)`,
    );
    expect(error.details).toMatchObject({ host: 'evil.example', address, class: kind });
    expect(server.seen).toEqual([]);
  });

  it('a name with one public and one private address: refused (every address is checked)', async () => {
    const dns = fakeDns({ 'mixed.example': ['8.8.8.8', '10.0.0.1'] });
    const error = await refusal({
      url: 'http://mixed.example/',
      body,
      allowHosts: [],
      lookup: dns.lookup,
    });
    expect(error.code).toBe('ssrf_refused');
    expect(error.message).toContain('resolves to 10.0.0.1, which is a private address');
  });
});

describe('postJson delivers to allowed hosts', () => {
  it('host in allowHosts: the request arrives with its body and headers', async () => {
    const server = await serve((_req, res) =>
      res.writeHead(202, { 'x-receiver': 'yes' }).end('ok'),
    );
    const result = await postJson({
      url: `${server.url}hooks/in?x=1`,
      body,
      headers: { 'X-Custom': 'abc', 'Content-Type': 'text/plain', 'webhook-id': 'msg_1' },
      allowHosts: ['127.0.0.1'],
    });
    expect(result).toMatchObject({ status: 202, body: 'ok', url: `${server.url}hooks/in?x=1` });
    expect(result.headers['x-receiver']).toBe('yes');
    expect(result.retryAfterMs).toBeUndefined();
    expect(server.seen).toHaveLength(1);
    expect(server.seen[0]).toMatchObject({ method: 'POST', url: '/hooks/in?x=1', body });
    expect(server.seen[0]?.headers).toMatchObject({
      'content-type': 'application/json',
      'x-custom': 'abc',
      'webhook-id': 'msg_1',
    });
  });

  it('host:port in allowHosts allows that port only', async () => {
    const server = await serve();
    const ok = await postJson({ url: server.url, body, allowHosts: [`127.0.0.1:${server.port}`] });
    expect(ok.status).toBe(200);
    const error = await refusal({ url: server.url, body, allowHosts: ['127.0.0.1:1'] });
    expect(error.code).toBe('ssrf_refused');
    expect(server.seen).toHaveLength(1);
  });

  it('an allowed name is connected to the address that was checked (resolved once per hop)', async () => {
    const server = await serve();
    const dns = fakeDns({ 'hooks.internal': ['127.0.0.1'] });
    const result = await postJson({
      url: `http://hooks.internal:${server.port}/`,
      body,
      allowHosts: ['hooks.internal'],
      lookup: dns.lookup,
    });
    expect(result.status).toBe(200);
    expect(dns.asked).toEqual(['hooks.internal']);
    expect(server.seen[0]?.headers.host).toBe(`hooks.internal:${server.port}`);
  });

  it('a Standard Webhooks signature made by signedHeaders verifies at the receiver', async () => {
    const secret = generateWebhookSecret();
    const server = await serve();
    await postJson({
      url: server.url,
      body,
      headers: signedHeaders(secret, 'msg_2', body),
      allowHosts: ['127.0.0.1'],
    });
    const seen = server.seen[0];
    const headers = Object.fromEntries(
      Object.entries(seen?.headers ?? {}).map(([k, v]) => [k, String(v)]),
    );
    expect(new Webhook(secret).verify(seen?.body ?? '', headers)).toEqual(JSON.parse(body));
  });
});

describe('postJson re-checks every redirect hop', () => {
  const redirectTo =
    (location: string, status = 307) =>
    (_req: Seen, res: http.ServerResponse) =>
      res.writeHead(status, { location }).end();

  it('307 from an allowed server to an unlisted 127.0.0.1 port: refused, that server saw nothing', async () => {
    const second = await serve();
    const first = await serve(redirectTo(second.url));
    const error = await refusal({ url: first.url, body, allowHosts: [`127.0.0.1:${first.port}`] });
    expect(error.code).toBe('ssrf_refused');
    expect(error.message).toContain(`refused http://127.0.0.1:${second.port}/`);
    expect(first.seen).toHaveLength(1);
    expect(second.seen).toEqual([]);
  });

  it('307 to 169.254.169.254: refused', async () => {
    const first = await serve(redirectTo('http://169.254.169.254/latest/meta-data/iam'));
    const error = await refusal({ url: first.url, body, allowHosts: ['127.0.0.1'] });
    expect(error.code).toBe('ssrf_refused');
    expect(error.message).toContain('169.254.169.254 is a link-local address');
  });

  it('307 and 308 to an allowed host repeat the POST with its body; authorization stays behind', async () => {
    const third = await serve();
    const second = await serve(redirectTo(`${third.url}final`, 308));
    const first = await serve(redirectTo(`${second.url}moved`));
    const result = await postJson({
      url: first.url,
      body,
      headers: { authorization: 'Bearer t', 'webhook-signature': 'v1,abc' },
      allowHosts: ['127.0.0.1'],
    });
    expect(result).toMatchObject({ status: 200, url: `${third.url}final` });
    for (const server of [first, second, third]) {
      expect(server.seen).toHaveLength(1);
      expect(server.seen[0]).toMatchObject({ method: 'POST', body });
      expect(server.seen[0]?.headers['webhook-signature']).toBe('v1,abc');
    }
    expect(first.seen[0]?.headers.authorization).toBe('Bearer t');
    expect(second.seen[0]?.headers.authorization).toBeUndefined();
  });

  it.each([301, 302, 303])(
    '%i is returned as the answer, not followed as a GET',
    async (status) => {
      const second = await serve();
      const first = await serve(redirectTo(second.url, status));
      const result = await postJson({ url: first.url, body, allowHosts: ['127.0.0.1'] });
      expect(result.status).toBe(status);
      expect(result.headers.location).toBe(second.url);
      expect(second.seen).toEqual([]);
    },
  );

  it('more than maxRedirects hops: too_many_redirects', async () => {
    const loop = await serve((req, res) => res.writeHead(307, { location: req.url }).end());
    const error = await refusal({
      url: loop.url,
      body,
      allowHosts: ['127.0.0.1'],
      maxRedirects: 2,
    });
    expect(error.code).toBe('too_many_redirects');
    expect(error.retryable).toBe(false);
    expect(loop.seen).toHaveLength(3);
  });

  it('a redirect to a non-http scheme: url_invalid', async () => {
    const first = await serve(redirectTo('file:///etc/passwd'));
    const error = await refusal({ url: first.url, body, allowHosts: ['127.0.0.1'] });
    expect(error.code).toBe('url_invalid');
  });
});

describe('postJson limits and failures', () => {
  it('a server that never answers: timeout (retryable) in about timeoutMs', async () => {
    const silent = await serve(() => {});
    const started = Date.now();
    const error = await refusal({
      url: silent.url,
      body,
      allowHosts: ['127.0.0.1'],
      timeoutMs: 200,
    });
    expect(error.code).toBe('timeout');
    expect(error.retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('a lookup that never answers: timeout too (the deadline covers DNS)', async () => {
    const error = await refusal({
      url: 'http://slow.example/',
      body,
      allowHosts: [],
      timeoutMs: 200,
      lookup: () => new Promise(() => {}),
    });
    expect(error.code).toBe('timeout');
  });

  it.each([
    ['with a content-length', false],
    ['chunked', true],
  ])('a response over maxResponseBytes (%s): response_too_large', async (_name, chunked) => {
    const big = 'x'.repeat(64 * 1024);
    const server = await serve((_req, res) => {
      if (chunked) res.write(big);
      res.end(chunked ? big : big + big);
    });
    const error = await refusal({
      url: server.url,
      body,
      allowHosts: ['127.0.0.1'],
      maxResponseBytes: 1024,
    });
    expect(error.code).toBe('response_too_large');
    expect(error.retryable).toBe(false);
    expect(error.details).toEqual({ status: 200 });
  });

  it('a closed port: network (retryable) naming the root cause', async () => {
    const server = await serve();
    const url = server.url;
    const closing = servers.splice(0);
    for (const s of closing) await new Promise((resolve) => s.close(resolve));
    const error = await refusal({ url, body, allowHosts: ['127.0.0.1'] });
    expect(error.code).toBe('network');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('a name that does not resolve: network (retryable)', async () => {
    const dns = fakeDns({});
    const error = await refusal({
      url: 'http://gone.example/',
      body,
      allowHosts: [],
      lookup: dns.lookup,
    });
    expect(error.code).toBe('network');
    expect(error.retryable).toBe(true);
    expect(error.message).toBe('cannot resolve gone.example: getaddrinfo ENOTFOUND gone.example');
  });

  it.each([
    ['ftp://example.com/', 'only http and https'],
    ['http://user:pass@example.com/', 'credentials in the URL'],
    ['not a url', 'not a URL'],
  ])('%s: url_invalid (not retryable)', async (url, why) => {
    const error = await refusal({ url, body, allowHosts: [] });
    expect(error.code).toBe('url_invalid');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(why);
    expect(error.message).not.toContain('pass');
  });
});

describe('Retry-After', () => {
  it('seconds and an HTTP date from the receiver become retryAfterMs', async () => {
    const inSeconds = await serve((_req, res) =>
      res.writeHead(503, { 'retry-after': '120' }).end(),
    );
    expect(await postJson({ url: inSeconds.url, body, allowHosts: ['127.0.0.1'] })).toMatchObject({
      status: 503,
      retryAfterMs: 120_000,
    });
    const at = new Date(Date.now() + 90_000).toUTCString();
    const asDate = await serve((_req, res) => res.writeHead(429, { 'retry-after': at }).end());
    const result = await postJson({ url: asDate.url, body, allowHosts: ['127.0.0.1'] });
    expect(result.retryAfterMs).toBeGreaterThan(80_000);
    expect(result.retryAfterMs).toBeLessThanOrEqual(90_000);
  });

  it('is capped at 24 h, a past date is 0, garbage is ignored', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter('999999999', now)).toBe(86_400_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
  });
});

describe('Standard Webhooks signing', () => {
  it('generateWebhookSecret is whsec_ + base64 of 32 random bytes', () => {
    const secret = generateWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
    expect(generateWebhookSecret()).not.toBe(secret);
  });

  it('signedHeaders round-trips through Webhook.verify; a changed body does not', () => {
    const secret = generateWebhookSecret();
    const at = new Date(Date.now() - 1500);
    const headers = signedHeaders(secret, 'msg_3', body, at);
    expect(headers['webhook-id']).toBe('msg_3');
    expect(headers['webhook-timestamp']).toBe(String(Math.floor(at.getTime() / 1000)));
    expect(headers['webhook-signature']).toMatch(/^v1,/);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret).verify(`${body} `, headers)).toThrow(
      'No matching signature found',
    );
  });
});

describe('postJson with its defaults (no limits given): 3 redirects, 1 MiB, 10 s', () => {
  it('the constants are the documented ones (operator guide: 10 s, 1 MiB, 3 redirects)', () => {
    expect([DEFAULT_TIMEOUT_MS, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_REDIRECTS]).toEqual([
      10_000,
      1024 * 1024,
      3,
    ]);
  });

  it('follows 3 redirects, refuses the 4th: too_many_redirects, four requests made', async () => {
    const loop = await serve((req, res) => {
      const n = Number(new URL(req.url, 'http://x').searchParams.get('n') ?? 0);
      res.writeHead(307, { location: `/hop?n=${n + 1}` }).end();
    });
    const error = await refusal({ url: `${loop.url}hop?n=0`, body, allowHosts: ['127.0.0.1'] });
    expect(error.code).toBe('too_many_redirects');
    expect(error.message).toBe(`http://127.0.0.1:${loop.port}/: more than 3 redirects`);
    expect(loop.seen.map((s) => s.url)).toEqual(['/hop?n=0', '/hop?n=1', '/hop?n=2', '/hop?n=3']);
  });

  it('3 redirects are followed to the answer', async () => {
    const last = await serve((_req, res) => res.writeHead(201).end('made it'));
    const chain = await serve((req, res) => {
      const n = Number(new URL(req.url, 'http://x').searchParams.get('n') ?? 0);
      res.writeHead(308, { location: n < 2 ? `/hop?n=${n + 1}` : `${last.url}end` }).end();
    });
    const result = await postJson({ url: `${chain.url}hop?n=0`, body, allowHosts: ['127.0.0.1'] });
    expect(result).toMatchObject({ status: 201, body: 'made it', url: `${last.url}end` });
    expect(chain.seen).toHaveLength(3);
    expect(last.seen).toEqual([expect.objectContaining({ method: 'POST', body })]);
  });

  it('every hop is resolved and checked: the third name resolves to a refused address', async () => {
    // One server reached under three names; each answer redirects to the next name.
    let port = 0;
    const hops = await serve((req, res) => {
      const next = req.headers.host?.startsWith('one.') ? 'two.example' : 'evil.example';
      res.writeHead(307, { location: `http://${next}:${port}/${next}` }).end();
    });
    port = hops.port;
    const dns = fakeDns({
      'one.example': ['127.0.0.1'],
      'two.example': ['127.0.0.1'],
      'evil.example': ['10.0.0.7'],
    });
    const error = await refusal({
      url: `http://one.example:${port}/start`,
      body,
      allowHosts: ['one.example', 'two.example'],
      lookup: dns.lookup,
    });
    expect(error.code).toBe('ssrf_refused');
    expect(error.message).toContain(
      'evil.example resolves to 10.0.0.7, which is a private address',
    );
    expect(dns.asked).toEqual(['one.example', 'two.example', 'evil.example']);
    expect(hops.seen.map((s) => `${s.headers.host}${s.url}`)).toEqual([
      `one.example:${port}/start`,
      `two.example:${port}/two.example`,
    ]);
  });

  it('a redirect that carries credentials, or goes from https to http: url_invalid', async () => {
    const server = await serve((_req, res) =>
      res.writeHead(307, { location: 'http://user:s3cret@127.0.0.1:1/' }).end(),
    );
    const error = await refusal({ url: server.url, body, allowHosts: ['127.0.0.1'] });
    expect(error.code).toBe('url_invalid');
    expect(error.message).toBe(
      `redirect from http://127.0.0.1:${server.port}/ to http://127.0.0.1:1/: credentials in the URL`,
    );
    expect(() => parseTarget('http://hooks.example/', new URL('https://hooks.example/'))).toThrow(
      'redirect from https://hooks.example/ to http://hooks.example/: https to http is refused',
    );
  });

  it.each([
    ['exactly 1 MiB', 0, 'delivered'],
    ['1 MiB + 1 byte', 1, 'response_too_large'],
  ])('a response of %s (no limit given)', async (_name, extra, outcome) => {
    const size = DEFAULT_MAX_RESPONSE_BYTES + extra;
    for (const chunked of [false, true]) {
      const server = await serve((_req, res) => {
        if (chunked) {
          res.write('y'.repeat(size - 10));
          res.end('y'.repeat(10));
        } else res.end('y'.repeat(size));
      });
      const answer = await postJson({ url: server.url, body, allowHosts: ['127.0.0.1'] }).then(
        (r) => ({ outcome: 'delivered', length: r.body.length }),
        (e: SwitchboardError) => ({ outcome: e.code, length: 0 }),
      );
      expect({ chunked, ...answer }).toEqual({
        chunked,
        outcome,
        length: outcome === 'delivered' ? size : 0,
      });
    }
  });

  it('a receiver that never answers: timeout after the default 10 s (fake clock)', async () => {
    const silent = await serve(() => {});
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      let settled = false;
      const pending = postJson({ url: silent.url, body, allowHosts: ['127.0.0.1'] });
      const done = () => {
        settled = true;
      };
      pending.then(done, done);
      // Real I/O (not faked) until the receiver holds the request.
      while (silent.seen.length === 0) await new Promise((r) => setImmediate(r));
      vi.advanceTimersByTime(DEFAULT_TIMEOUT_MS - 1);
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      expect(settled).toBe(false);
      vi.advanceTimersByTime(1);
      const error = (await pending.catch((e: unknown) => e)) as SwitchboardError;
      expect(isPostFailure(error)).toBe(true);
      expect(error.code).toBe('timeout');
      expect(error.retryable).toBe(true);
      expect(error.message).toBe(`http://127.0.0.1:${silent.port}/: no answer within 10000 ms`);
    } finally {
      vi.useRealTimers();
    }
  });
});
