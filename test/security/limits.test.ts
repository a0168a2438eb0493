/**
 * Attacks on the per-task rate limit (issue 19; http/mcp-routes.ts, db/rate-buckets.ts on
 * PostgreSQL, the in-memory buckets on PGlite) by an agent holding real task tokens, against the
 * whole gateway and the real stdio `crashy` server (5 requests a minute,
 * test/fixtures/mcp-gateway/policy.yaml):
 * - its other endpoint tokens (/mcp and /mcp/crashy) share the one bucket: no widening;
 * - 40 calls at once take no more than the limit (no race between refill and take);
 * - another task keeps its own bucket (one agent cannot use up another's);
 * - tool names made up on /mcp (`<anything>__tool`) and calls to integrations without a limit
 *   write no bucket: the table holds at most one row per task and rate-limited integration.
 * Runs on both databases.
 */
import { describe, expect, it } from 'vitest';
import { usingPostgres } from '../helpers/database.ts';
import { grantTask, integrationOf, post, toolCall, useMcpGateway } from '../helpers/mcp-gateway.ts';

describe('the per-task rate limit under attack', () => {
  const gw = useMcpGateway();

  const statusOf = async (res: Response) => {
    await res.arrayBuffer();
    return res.status;
  };

  it('a task’s /mcp and /mcp/<name> tokens share one bucket: 5 of 12 pass in all', async () => {
    const granted = await grantTask(gw(), ['crashy:*']);
    const crashy = integrationOf(granted, 'crashy');
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res =
        i % 2 === 0
          ? await post(crashy.url, crashy.token, toolCall(i, 'sleep', { ms: 0 }))
          : await post(granted.mcp.url, granted.mcp.token, toolCall(i, 'crashy__sleep', { ms: 0 }));
      statuses.push(await statusOf(res));
    }
    const passed = statuses.filter((s) => s === 200).length;
    // 5 a minute refills one every 12 s: a slow run may see one more.
    expect(passed).toBeGreaterThanOrEqual(5);
    expect(passed).toBeLessThanOrEqual(6);
    expect(statuses.filter((s) => s !== 200).every((s) => s === 429)).toBe(true);
  });

  it('40 calls at once take the limit once; another task keeps its own bucket', async () => {
    const racer = integrationOf(await grantTask(gw(), ['crashy:*']), 'crashy');
    const statuses = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        post(racer.url, racer.token, toolCall(i, 'sleep', { ms: 50 })).then(statusOf),
      ),
    );
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(6);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(34);
    const other = integrationOf(await grantTask(gw(), ['crashy:*']), 'crashy');
    expect(
      await statusOf(await post(other.url, other.token, toolCall(1, 'sleep', { ms: 0 }))),
    ).toBe(200);
  });

  it('made-up integrations and unlimited ones write no bucket: at most one row per task', async () => {
    const granted = await grantTask(gw(), ['*:*']);
    for (let i = 0; i < 30; i++) {
      await statusOf(
        await post(granted.mcp.url, granted.mcp.token, toolCall(i, `madeup${i}__tool`, {})),
      );
    }
    for (let i = 0; i < 30; i++) {
      await statusOf(
        await post(granted.mcp.url, granted.mcp.token, toolCall(100 + i, 'probe__whoami', {})),
      );
    }
    await statusOf(
      await post(granted.mcp.url, granted.mcp.token, toolCall(200, 'crashy__sleep', { ms: 0 })),
    );
    const rows = await gw().sql<Array<{ integration: string }>>`
      select integration from rate_buckets where task_id = ${granted.task.id}`;
    // PostgreSQL: crashy's one row; PGlite: none (the buckets are the process's own there).
    expect(rows).toEqual(usingPostgres ? [{ integration: 'crashy' }] : []);
  });
});
