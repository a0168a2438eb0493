/**
 * Webhook ingest benchmark (issue 6): POST /hooks/hooks/github on a real `switchboard start`
 * (PostgreSQL, the delivery worker running as in production) vs the "direct" floor
 * (fixtures/webhook-direct.ts: node:http + the same verify + one INSERT), measured in the same
 * run, plus delivery → task created latency for a paced stream. Prints a Markdown report.
 *
 *   npx tsx test/bench/webhook-bench.ts [--database-url postgres://…/test] [--duration 10]
 *       [--rounds 2] [--concurrency 16,64] [--e2e-rate 50] [--e2e-seconds 10]
 *       [--drain-timeout 120] [--profile] [--json out.json]
 *
 * A fresh database is created on that server for the run and dropped after it.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { descendants } from '../helpers/processes.ts';
import { startBenchGateway } from './gateway.ts';
import {
  cpuTicks,
  loadavg,
  machineBusyTicks,
  postgresTicks,
  quantile,
  TICK_US,
} from './measure.ts';
import { logTail, Processes, REPO, TSX_LOADER, until } from './processes.ts';
import { closedLoop, paced, type Signed, signDeliveries } from './webhook-load.ts';
import { type Drain, type Leg, report, type Target } from './webhook-report.ts';

const FIXTURES = path.join(REPO, 'test/fixtures/webhooks');
const SECRET = 'test-github-secret';
/** Pre-signed deliveries per second of a leg: above anything 2 cores can acknowledge. */
const PRESIGN_PER_S = 6_000;

const { values: opts } = parseArgs({
  options: {
    'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
    duration: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '16,64' },
    'e2e-rate': { type: 'string', default: '50' },
    'e2e-seconds': { type: 'string', default: '10' },
    'drain-timeout': { type: 'string', default: '120' },
    profile: { type: 'boolean', default: false },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  process.stdout.write(
    `${fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0]}*/\n`,
  );
  process.exit(0);
}
const seconds = Number(opts.duration);
const rounds = Number(opts.rounds);
const levels = opts.concurrency.split(',').map(Number);
const run = randomBytes(4).toString('hex');
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-webhook-bench-'));
const processes = new Processes(workDir);

async function main() {
  const base = opts['database-url'];
  const dbName = `switchboard_bench_${run}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  const dbUrl = new URL(base);
  dbUrl.pathname = `/${dbName}`;
  let sql: postgres.Sql | undefined;
  try {
    const loadBefore = loadavg();
    const profileDir = path.join(workDir, 'profiles');
    const gateway = await startBenchGateway(processes, {
      dataDir: path.join(workDir, 'data'),
      integrations: { dirs: FIXTURES, policy: path.join(FIXTURES, 'policy.yaml') },
      databaseUrl: dbUrl.toString(),
      profileDir: opts.profile ? profileDir : undefined,
      ready: ['hooks'],
    });
    const gw = gateway.proc;
    const gwUrl = gateway.url;
    sql = postgres(dbUrl.toString(), { max: 2, onnotice: () => {} });
    await sql`create table direct_deliveries (like webhook_deliveries including all)`;
    const direct = processes.launch(
      'direct',
      ['--import', TSX_LOADER, path.join(REPO, 'test/bench/fixtures/webhook-direct.ts')],
      { PATH: process.env.PATH, DATABASE_URL: dbUrl.toString(), WEBHOOK_SECRET: SECRET },
      { pipeStdout: true },
    );
    const directPort = await new Promise<number>((resolve, reject) => {
      direct.child.stdout?.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
      direct.child.once('exit', () => reject(new Error(`direct exited: ${logTail(direct)}`)));
    });
    const targets: Record<Target['key'], Target> = {
      gateway: { key: 'gateway', url: new URL(`${gwUrl}/hooks/hooks/github`), pid: gw.pid },
      duplicate: { key: 'duplicate', url: new URL(`${gwUrl}/hooks/hooks/github`), pid: gw.pid },
      direct: {
        key: 'direct',
        url: new URL(`http://127.0.0.1:${directPort}/`),
        pid: direct.pid,
      },
    };
    const handlerPid = () => descendants(gw.pid).find((p) => p !== gw.pid) ?? 0;
    const pending = async () =>
      (
        await sql!<{ n: number }[]>`
          select count(*)::int as n from webhook_deliveries where status in ('pending', 'processing')`
      )[0]!.n;
    const drain = async () => {
      const t0 = Date.now();
      const start = await pending();
      // With no load, the gateway's CPU is the worker's: claim, handler call, trigger transaction.
      const cpu0 = [cpuTicks(gw.pid), cpuTicks(handlerPid()), postgresTicks()];
      let left = start;
      while (left > 0 && Date.now() - t0 < Number(opts['drain-timeout']) * 1000) {
        await new Promise((r) => setTimeout(r, 500));
        left = await pending();
      }
      const s = (Date.now() - t0) / 1000;
      const cpu = [cpuTicks(gw.pid), cpuTicks(handlerPid()), postgresTicks()].map(
        (t, i) => ((t - cpu0[i]!) * TICK_US) / Math.max(1, start - left),
      );
      if (start > 0) {
        process.stderr.write(
          `  drained ${start - left} deliveries in ${s.toFixed(1)} s (${((start - left) / s).toFixed(0)}/s), ${left} left\n`,
        );
        drains.push({
          rows: start - left,
          seconds: s,
          left,
          gateway: cpu[0]!,
          handler: cpu[1]!,
          postgres: cpu[2]!,
        });
      }
    };
    const drains: Drain[] = [];

    const legs: Leg[] = [];
    let stored: Signed[] = [];
    const measure = async (target: Target, c: number, round: number, s = seconds) => {
      const count = Math.ceil(s * PRESIGN_PER_S);
      const deliveries =
        target.key === 'duplicate'
          ? Array.from({ length: count }, (_, n) => stored[n % stored.length]!)
          : signDeliveries(SECRET, `${target.key}-c${c}-r${round}-${run}`, count);
      const ours = () => [gw.pid, handlerPid(), direct.pid, process.pid];
      const snap = () => ({
        target: cpuTicks(target.pid),
        handler: target.key === 'gateway' ? cpuTicks(handlerPid()) : 0,
        generator: cpuTicks(process.pid),
        postgres: postgresTicks(),
        machine: machineBusyTicks(),
        ours: ours().reduce((sum, p) => sum + cpuTicks(p), 0),
      });
      const before = snap();
      const t0 = Number(process.hrtime.bigint() / 1000n);
      const result = await closedLoop(
        target.url,
        deliveries,
        c,
        s,
        target.key === 'duplicate' ? 200 : 202,
      );
      const t1 = Number(process.hrtime.bigint() / 1000n);
      const after = snap();
      const d = (k: keyof typeof before) => after[k] - before[k];
      const leg: Leg = {
        ...result,
        target: target.key,
        concurrency: c,
        round,
        cpu: {
          target: d('target'),
          handler: d('handler'),
          postgres: d('postgres'),
          generator: d('generator'),
          other: d('machine') - d('ours') - d('postgres'),
        },
        window: [t0, t1],
        backlog: target.key === 'gateway' ? await pending() : 0,
      };
      process.stderr.write(
        `  ${target.key} C=${c} round ${round}: ${(result.acked / result.seconds).toFixed(0)}/s, p99 ${quantile(result.latencies, 0.99).toFixed(1)} ms, errors ${result.errors}, backlog ${leg.backlog}\n`,
      );
      return leg;
    };

    process.stderr.write(`load before: ${loadBefore}; warming up…\n`);
    // The warm-up's deliveries are stored: the duplicate legs resend them (ingest without worker).
    const warm = await measure(targets.gateway, 16, 0, 2);
    stored = signDeliveries(SECRET, `gateway-c16-r0-${run}`, warm.acked);
    await measure(targets.direct, 16, 0, 2);
    await drain();

    // Delivery → task created, on an idle queue: both ends are DB timestamps of the same
    // server (received_at: the insert's transaction; tasks.created_at: the start of the
    // worker's transaction that creates the task and marks the row done).
    const e2eRate = Number(opts['e2e-rate']);
    const e2eCount = e2eRate * Number(opts['e2e-seconds']);
    const e2ePrefix = `e2e-${run}`;
    process.stderr.write(`e2e: ${e2eCount} deliveries at ${e2eRate}/s…\n`);
    const e2eAck = await paced(
      targets.gateway.url,
      signDeliveries(SECRET, e2ePrefix, e2eCount),
      e2eRate,
    );
    const e2eRows = await until('the e2e tasks', 120_000, async () => {
      const rows = await sql!<{ ms: number }[]>`
        select extract(epoch from (t.created_at - d.received_at))::float8 * 1000 as ms
          from webhook_deliveries d join tasks t on t.delivery_id = d.id
         where d.delivery_id like ${`${e2ePrefix}-%`}`;
      return rows.length >= e2eAck.acked ? rows : undefined;
    });
    const e2e = Float64Array.from(e2eRows.map((r) => r.ms)).sort();

    for (let round = 1; round <= rounds; round++) {
      // On an idle queue (drained): the ingest path alone, the worker has nothing to claim.
      legs.push(await measure(targets.duplicate, levels[0]!, round));
      for (const c of levels) legs.push(await measure(targets.direct, c, round));
      for (const c of levels) legs.push(await measure(targets.gateway, c, round));
      if (round < rounds) await drain();
    }
    const loadAfter = loadavg();

    if (opts.profile) {
      gw.child.kill('SIGTERM');
      await gw.exited;
      const kept = path.join(REPO, '.cache/bench/profiles');
      fs.mkdirSync(kept, { recursive: true });
      for (const f of fs.existsSync(profileDir) ? fs.readdirSync(profileDir) : []) {
        fs.copyFileSync(path.join(profileDir, f), path.join(kept, `webhooks-${f}`));
        process.stderr.write(`profile: ${path.join(kept, `webhooks-${f}`)}\n`);
      }
      const windowsOf = (target: string) => {
        const of = legs.filter((l) => l.target === target);
        return { windows: of.map((l) => l.window), calls: of.reduce((s, l) => s + l.acked, 0) };
      };
      const windows = path.join(kept, `webhooks-windows-${gw.pid}.json`);
      fs.writeFileSync(
        windows,
        JSON.stringify({
          'gateway-webhooks': windowsOf('gateway'),
          // The same ingest path with nothing stored and the worker idle: the difference is
          // what storing and processing cost.
          'gateway-duplicates': windowsOf('duplicate'),
        }),
      );
      process.stderr.write(
        `windows: ${windows} (--target gateway-webhooks | gateway-duplicates)\n`,
      );
    }
    report({
      legs,
      e2e,
      e2eAck,
      e2eRate,
      e2eCount,
      drains,
      loadBefore,
      loadAfter,
      levels,
      rounds,
      seconds,
    });
    if (opts.json) {
      fs.mkdirSync(path.dirname(path.resolve(opts.json)), { recursive: true });
      fs.writeFileSync(opts.json, JSON.stringify({ legs, e2e: [...e2e], drains }));
    }
  } finally {
    await sql?.end();
    await processes.stopAll();
    await admin.unsafe(`drop database if exists ${dbName} with (force)`);
    await admin.end();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

await main();
