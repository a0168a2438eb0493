import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { describe, expect, it, onTestFinished } from 'vitest';
import { type EventBus, InProcessBus } from '../../gateway/src/db/bus.ts';
import { createLogger } from '../../gateway/src/log.ts';
import type { LiveTokenLimits } from '../../gateway/src/tokens/live.ts';
import { MINT_CHANNEL } from '../../gateway/src/tokens/live-sync.ts';
import { TokenService } from '../../gateway/src/tokens/service.ts';
import { loadSigningKeys } from '../../gateway/src/tokens/signing-keys.ts';
import { testDatabase, usingPostgres } from '../helpers/database.ts';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';
import { type GatewayProcess, startGatewayProcess } from '../helpers/gateway-process.ts';

// Attacks on the live-token records (issue 20: a cold verification reads a token's record from
// memory, tokens/live.ts and live-sync.ts): a revoked token must be refused at once here and,
// through the bus, in another gateway process; a revocation whose message is lost must be
// honoured by the next sync; a caller must not be able to grow the records; and a forged,
// expired or re-aimed token must be refused though its genuine record is held.
const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/integrations');
const MASTER_KEY = Buffer.from('5a'.repeat(32), 'hex');
const log = createLogger('silent');

interface Granted {
  task: { id: string };
  mcp: { url: string; token: string };
  integrations: Array<{ name: string; url: string; token: string }>;
}

/** A bus whose messages never arrive: a LISTEN connection lost, a NOTIFY never sent. */
const deafBus: EventBus = {
  publish: async () => {},
  subscribe: async () => async () => {},
};

describe('live token records', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: FIXTURES,
    SWITCHBOARD_POLICY: path.join(FIXTURES, 'policy.yaml'),
  });
  const api = async (route: string, body: unknown) =>
    fetch(`${gw().url}/api/v1${route}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  async function grant(): Promise<Granted> {
    const res = await api('/tasks', { external: true, scope: ['echo:*'], ttl: '15m' });
    expect(res.status).toBe(201);
    return (await res.json()) as Granted;
  }
  const end = async (taskId: string) =>
    expect((await api(`/tasks/${taskId}/cancel`, {})).status).toBe(200);
  const outcome = (tokens: TokenService, token: string, audience = `${gw().url}/mcp`) =>
    tokens.verify(token, audience).then(
      () => 'accepted',
      (e: Error) => e.message,
    );
  async function service(bus: EventBus, liveTokens?: LiveTokenLimits): Promise<TokenService> {
    const tokens = await TokenService.start({
      sql: gw().sql,
      masterKey: MASTER_KEY,
      bus,
      log,
      issuer: () => gw().url,
      ...(liveTokens ? { liveTokens } : {}),
    });
    onTestFinished(() => tokens.close());
    return tokens;
  }

  it('a revoked token is refused at once by the process that revoked it, verified before or not', async () => {
    const granted = await grant();
    await gw().tokens.records.loaded();
    const echo = granted.integrations[0]!;
    expect(await outcome(gw().tokens, granted.mcp.token)).toBe('accepted'); // cached too
    await end(granted.task.id);
    expect(await outcome(gw().tokens, granted.mcp.token)).toBe('the token has been revoked');
    // Never verified, its record held since the grant: refused as well.
    expect(await outcome(gw().tokens, echo.token, echo.url)).toBe('the token has been revoked');
  });

  it('a revocation whose bus message is lost is honoured by the next sync, cached or not', async () => {
    const deaf = await service(deafBus);
    const granted = await grant();
    const echo = granted.integrations[0]!;
    // Read from the database once each, then held (and the /mcp one cached).
    expect(await outcome(deaf, granted.mcp.token)).toBe('accepted');
    expect(await outcome(deaf, echo.token, echo.url)).toBe('accepted');
    expect(deaf.records.size).toBeGreaterThanOrEqual(2);
    await end(granted.task.id); // announced on the gateway's bus, which `deaf` does not hear
    // The stated bound: until the sync (every 5 s) re-reads the records, this process trusts them.
    await deaf.records.sync();
    expect(await outcome(deaf, granted.mcp.token)).toBe('the token has been revoked');
    expect(await outcome(deaf, echo.token, echo.url)).toBe('the token has been revoked');
  });

  it('a caller cannot grow the records: only live recorded tokens enter, at most maxEntries', async () => {
    const bus = new InProcessBus();
    const small = await service(bus, { maxEntries: 3, trustMs: 30_000 });
    const grants = [await grant(), await grant(), await grant()];
    const all = grants.flatMap((g) => [
      { token: g.mcp.token, url: g.mcp.url },
      ...g.integrations.map((i) => ({ token: i.token, url: i.url })),
    ]);
    expect(all.length).toBeGreaterThan(3);
    for (const { token, url } of all) expect(await outcome(small, token, url)).toBe('accepted');
    expect(small.records.size).toBe(3);
    // Past the cap, a token is checked against the database: revoked is still revoked.
    await end(grants[0]!.task.id);
    for (const { token, url } of all.slice(0, 1 + grants[0]!.integrations.length)) {
      expect(await outcome(small, token, url)).toBe('the token has been revoked');
    }
    for (const { token, url } of all.slice(1 + grants[0]!.integrations.length)) {
      expect(await outcome(small, token, url)).toBe('accepted');
    }

    // A fresh process: garbage, bad signatures, unknown jtis under the real key and forged mint
    // announcements hold nothing.
    const fresh = await service(deafBus, { maxEntries: 3, trustMs: 30_000 });
    const before = fresh.records.size;
    const [key] = (await loadSigningKeys(gw().sql, MASTER_KEY)).slice(-1);
    for (let i = 0; i < 20; i++) {
      const forged = await new SignJWT({ scope: 'echo:*' })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: key!.kid })
        .setIssuer(gw().url)
        .setAudience(`${gw().url}/mcp`)
        .setSubject(`task:${grants[1]!.task.id}`)
        .setIssuedAt()
        .setExpirationTime('10m')
        .setJti(crypto.randomUUID())
        .sign(key!.privateKey);
      expect(await outcome(fresh, forged)).toBe('the token is not known');
      expect(await outcome(fresh, `${grants[1]!.mcp.token.slice(0, -4)}AAAA`)).toBe(
        "the token's signature is invalid",
      );
      expect(await outcome(fresh, `garbage.${i}`)).toBe('the token is not a JWT');
    }
    const announcing = await service(bus, { maxEntries: 3, trustMs: 30_000 });
    const held = announcing.records.size;
    for (let i = 0; i < 50; i++) await bus.publish(MINT_CHANNEL, crypto.randomUUID());
    await bus.publish(MINT_CHANNEL, 'not a uuid');
    await announcing.records.loaded();
    expect(announcing.records.size).toBe(held);
    expect(fresh.records.size).toBe(before);
  });

  it('a held record does not make a forged, expired or re-aimed token pass', async () => {
    const granted = await grant();
    await gw().tokens.records.loaded();
    expect(await outcome(gw().tokens, granted.mcp.token)).toBe('accepted'); // held and cached
    const claims = decodeJwt(granted.mcp.token);
    const { kid } = decodeProtectedHeader(granted.mcp.token);
    const key = (await loadSigningKeys(gw().sql, MASTER_KEY)).find((k) => k.kid === kid)!;
    const resign = (change: Record<string, unknown>) =>
      new SignJWT({ ...claims, ...change })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: key.kid })
        .sign(key.privateKey);
    expect(await outcome(gw().tokens, await resign({ scope: '*:*' }))).toBe(
      'the token does not match its record',
    );
    const echoUrl = granted.integrations[0]!.url;
    expect(await outcome(gw().tokens, await resign({ aud: echoUrl }), echoUrl)).toBe(
      'the token does not match its record',
    );
    const past = Math.floor(Date.now() / 1000) - 60;
    expect(await outcome(gw().tokens, await resign({ exp: past, iat: past - 60 }))).toBe(
      'the token has expired',
    );
    // The genuine token, at another endpoint: refused though cached.
    expect(await outcome(gw().tokens, granted.mcp.token, echoUrl)).toBe(
      'the token was issued for another endpoint',
    );
  });
});

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

/** The status and body of a stateless MCP ping to `gateway`, presenting `host` as the Host. */
function ping(gateway: GatewayProcess, host: string, token: string) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const url = new URL('/mcp', gateway.url);
    const req = http.request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: {
          host,
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }));
  });
}

describe.skipIf(!usingPostgres)('live token records in two gateway processes', () => {
  it('a token revoked through one process is refused by the other, which held its record', async () => {
    const db = await testDatabase();
    onTestFinished(() => db.cleanup());
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    const env = {
      INTEGRATION_DIRS: FIXTURES,
      SWITCHBOARD_POLICY: path.join(FIXTURES, 'policy.yaml'),
      SWITCHBOARD_PUBLIC_URL: publicUrl,
      SWITCHBOARD_MASTER_KEY: MASTER_KEY.toString('hex'),
    };
    const a = await startGatewayProcess({ ...env, PORT: String(port) }, db);
    onTestFinished(() => a.cleanup());
    const b = await startGatewayProcess(env, db);
    onTestFinished(() => b.cleanup());
    const host = new URL(publicUrl).host;

    const res = await fetch(`${a.url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ external: true, scope: ['echo:*'], ttl: '15m' }),
    });
    expect(res.status).toBe(201);
    const granted = (await res.json()) as Granted;
    expect((await ping(b, host, granted.mcp.token)).status).toBe(200);
    const cancelled = await fetch(`${a.url}/api/v1/tasks/${granted.task.id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(cancelled.status).toBe(200);
    // The NOTIFY clears b's record within milliseconds; the 5 s sync would, had it been lost.
    await expect
      .poll(async () => (await ping(b, host, granted.mcp.token)).status, { timeout: 15_000 })
      .toBe(401);
    expect((await ping(b, host, granted.mcp.token)).text).toContain('the token has been revoked');
    expect((await ping(a, host, granted.mcp.token)).text).toContain('the token has been revoked');
  });
});
