/**
 * The delivery worker's drain alone, statement by statement: a backlog of `--rows` deliveries
 * (after `--warm` drained first, so the tables hold history) is inserted in one statement while
 * a real `switchboard start` (of `--repo`, default this checkout) runs, and the drain rate, CPU
 * per delivery and every statement's calls, plans and time per delivery are printed from
 * pg_stat_statements. For comparing two checkouts when the webhook bench's long drain differs:
 * counts per delivery are exact whatever the machine's load, rates are not.
 *
 * Needs a PostgreSQL with pg_stat_statements loaded (shared_preload_libraries, and
 * `create extension pg_stat_statements` in its `postgres` database; track_planning = on for
 * the plan columns); the machine's default cluster has none, so make a scratch one, e.g.
 * `pg_createcluster 15 probe -p 5433`. Used for issue 14 (test/bench/HISTORY.md).
 *
 *   npx tsx test/bench/drain-probe.ts [--repo /path/to/other/checkout] [--warm 20000]
 *       [--rows 30000] [--database-url postgres://postgres@127.0.0.1:5433/test] [--no-statements]
 *       [--profile]   (the gateway under node --cpu-prof, kept in .cache/bench/profiles)
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { descendants } from '../helpers/processes.ts';
import { githubHeaders } from '../helpers/webhooks.ts';
import { startBenchGateway } from './gateway.ts';
import { cpuTicks, postgresTicks, TICK_US } from './measure.ts';
import { Processes, REPO } from './processes.ts';

const { values: opts } = parseArgs({
  options: {
    'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5433/test' },
    repo: { type: 'string', default: REPO },
    rows: { type: 'string', default: '30000' },
    warm: { type: 'string', default: '0' },
    // Node 20's parseArgs has no --no-<flag>: the machine's default cluster lacks the extension.
    'no-statements': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
  },
});
const run = randomBytes(4).toString('hex');
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-drain-probe-'));
const processes = new Processes(workDir);
const FIXTURES = path.join(REPO, 'test/fixtures/webhooks');

async function main() {
  const base = opts['database-url'];
  const dbName = `switchboard_probe_${run}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  const dbUrl = new URL(base);
  dbUrl.pathname = `/${dbName}`;
  const sql = postgres(dbUrl.toString(), { max: 2, onnotice: () => {} });
  const postgresDb = new URL(base);
  postgresDb.pathname = '/postgres';
  const stmts = postgres(postgresDb.toString(), { max: 1, onnotice: () => {} });
  try {
    const gw = await startBenchGateway(processes, {
      repo: opts.repo,
      dataDir: path.join(workDir, 'data'),
      integrations: { dirs: FIXTURES, policy: path.join(FIXTURES, 'policy.yaml') },
      databaseUrl: dbUrl.toString(),
      ready: ['hooks'],
      profileDir: opts.profile ? path.join(workDir, 'profiles') : undefined,
    });
    // One real delivery: the template row.
    const body = JSON.stringify({
      triggers: [
        { session: { key: 'hooks:t', dispatch: { type: 'none' } }, message: 'x', run: true },
      ],
    });
    const res = await fetch(`${gw.url}/hooks/hooks/github`, {
      method: 'POST',
      headers: githubHeaders('test-github-secret', body, 'template', 'push'),
      body,
    });
    if (res.status !== 202) throw new Error(`template: ${res.status}`);
    const pending = async () =>
      (
        await sql<{ n: number }[]>`
          select count(*)::int as n from webhook_deliveries where status in ('pending', 'processing')`
      )[0]!.n;
    while ((await pending()) > 0) await new Promise((r) => setTimeout(r, 100));
    const insert = async (prefix: string, rows: number) => {
      await sql`
      insert into webhook_deliveries (integration, endpoint, delivery_id, headers, body, kind, status, attempts)
      select integration, endpoint, ${prefix} || g, headers,
             convert_to(json_build_object('triggers', json_build_array(json_build_object(
               'session', json_build_object('key', 'hooks:' || ${prefix} || g, 'dispatch', json_build_object('type', 'none')),
               'message', 'bench ' || g, 'run', true)))::text, 'UTF8'),
             kind, 'pending', 0
        from webhook_deliveries, generate_series(1, ${rows}::int) g
       where delivery_id = 'template'`;
    };
    const warm = Number(opts.warm);
    if (warm > 0) {
      const w0 = Date.now();
      await insert('w-', warm);
      while ((await pending()) > 0) await new Promise((r) => setTimeout(r, 250));
      console.log(`warm: ${warm} in ${((Date.now() - w0) / 1000).toFixed(1)} s`);
    }
    const rows = Number(opts.rows);
    await insert('p-', rows);
    if (!opts['no-statements']) await stmts`select pg_stat_statements_reset()`;
    const db0 = await dbStats(sql, dbName);
    // Every process under the gateway (the integration's stdio server, and whatever it spawned).
    const handlerTicks = () =>
      descendants(gw.proc.pid)
        .filter((p) => p !== gw.proc.pid)
        .reduce((sum, p) => sum + cpuTicks(p), 0);
    const cpu0 = [cpuTicks(gw.proc.pid), handlerTicks(), postgresTicks()];
    const t0 = Date.now();
    let left = rows;
    while (left > 0) {
      await new Promise((r) => setTimeout(r, 250));
      left = await pending();
    }
    const s = (Date.now() - t0) / 1000;
    const cpu = [cpuTicks(gw.proc.pid), handlerTicks(), postgresTicks()].map(
      (t, i) => ((t - cpu0[i]!) * TICK_US) / rows,
    );
    const db1 = await dbStats(sql, dbName);
    console.log(
      `${opts.repo}: drained ${rows} in ${s.toFixed(1)} s = ${(rows / s).toFixed(0)}/s; CPU µs/delivery gateway ${cpu[0]!.toFixed(0)} handler ${cpu[1]!.toFixed(0)} postgres ${cpu[2]!.toFixed(0)}`,
    );
    console.log(
      `  per delivery: xact_commit ${((db1.xact_commit - db0.xact_commit) / rows).toFixed(3)}, tup_returned ${((db1.tup_returned - db0.tup_returned) / rows).toFixed(1)}, tup_fetched ${((db1.tup_fetched - db0.tup_fetched) / rows).toFixed(1)}, blks_hit ${((db1.blks_hit - db0.blks_hit) / rows).toFixed(1)}`,
    );
    if (!opts['no-statements']) {
      const st = await stmts<
        { calls: number; plans: number; pms: number; ms: number; rows: number; query: string }[]
      >`
        select calls::int, plans::int, total_plan_time::float8 as pms, total_exec_time::float8 as ms, rows::int, left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 140) as query
          from pg_stat_statements where dbid = (select oid from pg_database where datname = ${dbName})
         order by total_exec_time desc limit 25`;
      for (const r of st) {
        console.log(
          `  ${(r.calls / rows).toFixed(3).padStart(7)} calls/d ${((r.ms * 1000) / rows).toFixed(1).padStart(6)} µs/d ${(r.rows / Math.max(1, r.calls)).toFixed(1).padStart(6)} rows/call ${(r.plans / Math.max(1, r.calls)).toFixed(2)} plans/call ${((r.pms * 1000) / rows).toFixed(1)} plan-µs/d  ${r.query.slice(0, 90)}`,
        );
      }
    }
    if (opts.profile) {
      gw.proc.child.kill('SIGTERM');
      await gw.proc.exited;
      const kept = path.join(REPO, '.cache/bench/profiles');
      fs.mkdirSync(kept, { recursive: true });
      for (const f of fs.readdirSync(path.join(workDir, 'profiles'))) {
        fs.copyFileSync(path.join(workDir, 'profiles', f), path.join(kept, `drain-${f}`));
        console.log(`profile: ${path.join(kept, `drain-${f}`)}`);
      }
    }
  } finally {
    await sql.end();
    await stmts.end();
    await processes.stopAll();
    await admin.unsafe(`drop database if exists ${dbName} with (force)`);
    await admin.end();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

async function dbStats(sql: postgres.Sql, db: string) {
  const [r] = await sql<
    { xact_commit: number; tup_returned: number; tup_fetched: number; blks_hit: number }[]
  >`select xact_commit::float8 as xact_commit, tup_returned::float8 as tup_returned,
           tup_fetched::float8 as tup_fetched, blks_hit::float8 as blks_hit
      from pg_stat_database where datname = ${db}`;
  return r!;
}

await main();
