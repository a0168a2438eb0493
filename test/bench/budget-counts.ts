/**
 * Which shape of per-tool budget counts is cheaper (issue 15, 0009_task_budgets.sql): the one
 * row per task with a jsonb `per_tool` map that migration 0009 chose (one upsert checks and
 * counts every limit: tasks/sql/budgets.ts countBudgetCall), against a row per (task, pattern)
 * beside the task's row (the task's calls and the pattern's count are two rows, so checking
 * both limits atomically takes a transaction: lock the task row, upsert the pattern's row,
 * count the call). `--calls` sequential calls of one task over one connection, then the same
 * number spread over `--concurrency` connections, each shape in turn, twice; a few seconds.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx test/bench/budget-counts.ts
 *       [--calls 3000] [--concurrency 8]
 *
 * 2026-12-04 19:59 UTC, PostgreSQL 15 on the shared 2 vCPU VM at load average 12 (other
 * helpers' tests: rates are noisy, the order held in both rounds once warm): jsonb 769 calls/s
 * on one connection and 945 on 8; row per tool 155 and 366 (round 2; round 1, cold: 284/713
 * against 331/465). The jsonb upsert is one round trip where the row per tool needs four
 * (begin, two statements, commit) and holds the task row's lock across them; 0009 keeps jsonb.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { migrate } from '../../gateway/src/db/migrate.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { countBudgetCall } from '../../gateway/src/tasks/sql/budgets.ts';

const { values: opts } = parseArgs({
  options: {
    calls: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '8' },
  },
});
const CALLS = Number(opts.calls);
const CONCURRENCY = Number(opts.concurrency);
const base = process.env.DATABASE_URL;
if (!base)
  throw new Error('set DATABASE_URL to a PostgreSQL server (the bench makes its own database)');

const name = `switchboard_budget_bench_${randomBytes(4).toString('hex')}`;
const admin = postgres(base, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${name}`);
const url = new URL(base);
url.pathname = `/${name}`;
const sql = postgres(url.toString(), { max: CONCURRENCY, onnotice: () => {} });

try {
  await migrate(sql, createLogger('silent'));
  await sql`
    create table task_budget_tools (
      task_id uuid not null references tasks (id) on delete cascade,
      pattern text not null,
      calls integer not null default 0,
      primary key (task_id, pattern))`;
  const newTask = async () => {
    const [row] = await sql<{ id: string }[]>`
      insert into tasks (external, status) values (true, 'running') returning id::text`;
    return row!.id;
  };
  // Limits far above the calls: every call is counted, which is the path every call pays.
  const limits = {
    toolCalls: CALLS * 10,
    patterns: ['echo:sleep'],
    patternMaxes: [CALLS * 10],
    upstreamBytes: null,
    wallTimeMs: 3_600_000,
  };
  const jsonb = (taskId: string) => countBudgetCall(sql, taskId, limits);
  const rowPerTool = (taskId: string) =>
    sql.begin(async (tx) => {
      const [task] = await tx<{ calls: number }[]>`
        insert into task_budgets as b (task_id) values (${taskId})
        on conflict (task_id) do update set updated_at = b.updated_at
        returning calls`;
      if (task!.calls >= limits.toolCalls) return undefined;
      const [tool] = await tx<{ calls: number }[]>`
        insert into task_budget_tools as p (task_id, pattern, calls)
        values (${taskId}, ${limits.patterns[0]!}, 1)
        on conflict (task_id, pattern) do update set calls = p.calls + 1
         where p.calls < ${limits.patternMaxes[0]!}
        returning calls`;
      if (!tool) return undefined;
      const [counted] = await tx<{ calls: number }[]>`
        update task_budgets set calls = calls + 1 where task_id = ${taskId} returning calls`;
      return counted!.calls;
    });
  const shapes = { 'jsonb (0009)': jsonb, 'row per tool': rowPerTool };
  const rows: string[] = [];
  for (let round = 1; round <= 2; round++) {
    for (const [shape, count] of Object.entries(shapes)) {
      for (const parallel of [1, CONCURRENCY]) {
        const taskId = await newTask();
        const started = process.hrtime.bigint();
        await Promise.all(
          Array.from({ length: parallel }, async () => {
            for (let i = 0; i < CALLS / parallel; i++) await count(taskId);
          }),
        );
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        rows.push(
          `| ${round} | ${shape} | ${parallel} | ${Math.round((CALLS / ms) * 1000)} | ${((ms * 1000) / CALLS).toFixed(0)} |`,
        );
      }
    }
  }
  console.log(`${CALLS} counted calls of one task per leg, PostgreSQL at ${url.host}\n`);
  console.log('| round | shape | connections | calls/s | µs per call |\n|---|---|---|---|---|');
  console.log(rows.join('\n'));
} finally {
  await sql.end();
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end();
}
