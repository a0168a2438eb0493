/**
 * Three real gateway processes (`switchboard start`) on one fresh PostgreSQL database behind one
 * round-robin TCP balancer (test/helpers/balancer.ts): the replica suite's cluster (issue 19).
 * SWITCHBOARD_PUBLIC_URL is the balancer's, so a token minted by one replica names the audience
 * every replica expects. Each replica listens on a port of its own, fixed for its life, so a
 * replica restarted (`restart(i)`) comes back at the address the balancer already has.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { type Balancer, fetchFresh, startBalancer } from '../helpers/balancer.ts';
import { type TestDatabase, testDatabase } from '../helpers/database.ts';
import { ADMIN_KEY, REPO_ROOT } from '../helpers/gateway.ts';
import { type GatewayProcess, spawnGatewayProcess } from '../helpers/gateway-process.ts';

export const REPLICAS = 3;

const WEBHOOK_FIXTURES = path.join(REPO_ROOT, 'test/fixtures/webhooks');
/** The webhook tests' integration (hooks) and policy: tasks go to a held profile, stay pending. */
export const WEBHOOK_ENV = {
  INTEGRATION_DIRS: WEBHOOK_FIXTURES,
  SWITCHBOARD_POLICY: path.join(WEBHOOK_FIXTURES, 'policy.yaml'),
};

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

/**
 * Every replica process started here, killed when the test worker exits: a beforeAll that times
 * out while a replica boots never gets a cluster to stop, and its processes would outlive the run.
 */
const started = new Set<{ child: GatewayProcess['child'] }>();
process.once('exit', () => {
  for (const r of started) if (r.child.exitCode === null) r.child.kill('SIGKILL');
});

export interface Cluster {
  balancer: Balancer;
  /** The balancer's URL: the public URL every replica was given. */
  url: string;
  /** The replicas, by index; `restart(i)` replaces an entry. */
  replicas: GatewayProcess[];
  /** Each replica's own address (not through the balancer). */
  direct(i: number): string;
  /**
   * A request to replica i itself, bypassing the balancer but naming the public host (the
   * balancer's): /mcp refuses any other Host (DNS rebinding), as it would behind a real one.
   */
  directRequest(
    i: number,
    method: string,
    route: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<{ status: number; text: string }>;
  /** A connection to the cluster's database (one, for counting rows). */
  sql: postgres.Sql;
  /** An admin API call through the balancer (a new connection each time). */
  api(method: string, route: string, body?: unknown, base?: string): Promise<Response>;
  /**
   * Until replica i's /readyz answers 200 (its database and its integrations' servers are up),
   * as a balancer's health check waits before sending it traffic.
   */
  waitReady(i: number): Promise<void>;
  /** Starts replica i again (after it exited) on its own port. */
  restart(i: number): Promise<GatewayProcess>;
  stop(): Promise<void>;
}

export async function startCluster(env: Record<string, string>): Promise<Cluster> {
  const database: TestDatabase = await testDatabase();
  const ports = await Promise.all(Array.from({ length: REPLICAS }, freePort));
  const balancer = await startBalancer(ports.map((port) => ({ host: '127.0.0.1', port })));
  const dataDirs = ports.map(() => fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-replica-')));
  const replicaEnv = (i: number) => ({
    // Info at least: startGatewayProcess waits for the 'listening' line.
    LOG_LEVEL: 'info',
    ...env,
    PORT: String(ports[i]),
    HOST: '127.0.0.1',
    SWITCHBOARD_DATA_DIR: dataDirs[i]!,
    SWITCHBOARD_PUBLIC_URL: balancer.url,
    // One master key for all three: the signing keys in the database are sealed with it.
    SWITCHBOARD_MASTER_KEY: '5a'.repeat(32),
    SWITCHBOARD_ADMIN_KEY: ADMIN_KEY,
  });
  const start = async (i: number): Promise<GatewayProcess> => {
    const booting = await spawnGatewayProcess(replicaEnv(i), database);
    started.add(booting);
    try {
      const listening = await booting.waitForLog('switchboard gateway listening');
      return { ...booting, url: listening.url as string };
    } catch (error) {
      await booting.cleanup();
      throw error;
    }
  };
  const replicas: GatewayProcess[] = [];
  const sql = postgres(database.env.DATABASE_URL!, { max: 2, onnotice: () => {} });
  const stop = async () => {
    await Promise.all(replicas.map((r) => r.cleanup()));
    await balancer.close();
    await sql.end();
    await database.cleanup();
    for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Together: migrations take an advisory lock (gateway/src/db/migrate.ts), so racing is safe.
    replicas.push(...(await Promise.all(ports.map((_, i) => start(i)))));
  } catch (error) {
    await stop();
    throw error;
  }
  const direct = (i: number) => `http://127.0.0.1:${ports[i]}`;
  const waitReady = async (i: number) => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const status = await fetch(`${direct(i)}/readyz`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) return;
      if (Date.now() > deadline) throw new Error(`replica ${i} not ready after 60 s (${status})`);
      await sleep(50);
    }
  };
  try {
    await Promise.all(ports.map((_, i) => waitReady(i)));
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    balancer,
    url: balancer.url,
    replicas,
    direct,
    directRequest: (i, method, route, headers, body) =>
      new Promise((resolve, reject) => {
        const req = http.request(
          `${direct(i)}${route}`,
          { method, headers: { ...headers, host: new URL(balancer.url).host }, agent: false },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => {
              text += d;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      }),
    sql,
    api: (method, route, body, base = balancer.url) =>
      fetchFresh(`${base}/api/v1${route}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
    waitReady,
    async restart(i) {
      const replica = await start(i);
      replicas[i] = replica;
      return replica;
    },
    stop,
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
