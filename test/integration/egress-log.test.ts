import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../gateway/src/log.ts';
import { runRetention } from '../../gateway/src/retention/job.ts';
import { egressRecord as record } from '../helpers/egress.ts';
import { ADMIN_KEY, runSwitchboard, useTestGateway } from '../helpers/gateway.ts';

// Issue 21: the egress proxy's connection log — written in batches by EgressAudit, read by
// GET /api/v1/egress and `switchboard egress list`, pruned by the retention job, bounded per
// integration. The proxy itself is tested in egress-proxy.test.ts; here the records are made
// directly so the log's paging and filters can be checked at volume.

const gw = useTestGateway();

async function api(route: string, key = ADMIN_KEY) {
  const res = await fetch(`${gw().url}/api/v1${route}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

interface Row {
  id: string;
  integration: string | null;
  host: string;
  outcome: string;
  reason: string | null;
  taskId: string | null;
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
}

const TASK = '0b6e7f3c-2a40-4b8e-9d1a-5f0c2e7a9b31';

describe('egress connection log', () => {
  it('pages 36 connections of 3 integrations newest first by numeric id, and filters them', async () => {
    const audit = gw().egress!.audit;
    const integrations = ['alpha', 'beta', 'gamma'];
    for (let i = 0; i < 36; i++) {
      const integration = integrations[i % 3]!;
      const refused = i % 4 === 0;
      audit.record(
        record({
          integration,
          host: `h${i}.example.com`,
          outcome: refused ? 'refused' : 'allowed',
          reason: refused ? 'host_not_granted' : undefined,
          address: refused ? undefined : '93.184.216.34',
          taskId: i === 17 ? TASK : undefined,
          bytesUp: i,
          bytesDown: 1_000 + i,
        }),
      );
    }
    await audit.flush();

    const seen: Row[] = [];
    let before: string | null = null;
    for (let page = 0; page < 5; page++) {
      const query = `/egress?limit=10${before ? `&before=${before}` : ''}`;
      const { status, body } = await api(query);
      expect(status).toBe(200);
      const rows = body.connections as Row[];
      seen.push(...rows);
      before = body.next as string | null;
      if (!before) break;
    }
    expect(seen).toHaveLength(36);
    // Newest first, as numbers: id 10 after 9 would sort before it as text.
    const ids = seen.map((r) => BigInt(r.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));
    expect(new Set(ids).size).toBe(36);
    expect(seen.map((r) => r.host)).toEqual(
      Array.from({ length: 36 }, (_, i) => `h${35 - i}.example.com`),
    );
    expect(seen[35]).toMatchObject({
      integration: 'alpha',
      outcome: 'refused',
      reason: 'host_not_granted',
      bytesUp: 0,
      bytesDown: 1_000,
      durationMs: 12,
    });

    const beta = (await api('/egress?integration=beta&limit=500')).body.connections as Row[];
    expect(beta).toHaveLength(12);
    expect(beta.every((r) => r.integration === 'beta')).toBe(true);
    const refused = (await api('/egress?outcome=refused&limit=500')).body.connections as Row[];
    expect(refused.map((r) => r.host)).toEqual(
      [32, 28, 24, 20, 16, 12, 8, 4, 0].map((i) => `h${i}.example.com`),
    );
    const byTask = (await api(`/egress?task=${TASK}`)).body.connections as Row[];
    expect(byTask.map((r) => r.host)).toEqual(['h17.example.com']);
    const byHost = (await api('/egress?host=H21.Example.com')).body.connections as Row[];
    expect(byHost.map((r) => r.integration)).toEqual(['alpha']);
  });

  it('says which query field is wrong', async () => {
    const bad = await api('/egress?outcome=maybe&limit=0&task=7');
    expect(bad.status).toBe(400);
    const text = JSON.stringify(bad.body);
    expect(text).toContain('outcome');
    expect(text).toContain('expected allowed, refused or failed');
    expect(text).toContain('limit');
    expect(text).toContain('task');
  });

  it('lists through the CLI, with the next page named', async () => {
    const env = { SWITCHBOARD_URL: gw().url, SWITCHBOARD_API_KEY: ADMIN_KEY };
    const listed = await runSwitchboard(
      ['egress', 'list', '--integration', 'gamma', '--limit', '5'],
      env,
    );
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    const lines = listed.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /^ID +STARTED +INTEGRATION +HOST +OUTCOME +REASON +UP +DOWN +MS +TASK/,
    );
    expect(lines.slice(1, 6).every((l) => l.includes('gamma'))).toBe(true);
    expect(lines[1]).toContain('h35.example.com:443');
    expect(lines.at(-1)).toMatch(/^more: --before \d+$/);
    const json = await runSwitchboard(['egress', 'list', '--outcome', 'refused', '--json'], env);
    expect(JSON.parse(json.stdout).connections.length).toBeGreaterThanOrEqual(9);
    const wrong = await runSwitchboard(['egress', 'show'], env);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('unknown subcommand "show"');
  });

  it('stores a host holding NUL without failing its batch, and cuts it at 253 characters', async () => {
    const audit = gw().egress!.audit;
    audit.record(
      record({ integration: 'delta', host: `evil\u0000.example.com${'x'.repeat(400)}` }),
    );
    audit.record(record({ integration: 'delta', host: 'fine.example.com' }));
    await audit.flush();
    const rows = (await api('/egress?integration=delta')).body.connections as Row[];
    expect(rows.map((r) => r.host.length)).toEqual([16, 253]);
    expect(rows[1]?.host.startsWith('evil\ufffd.example.com')).toBe(true);
  });

  it('stores at most 200 rows a second per integration, counting the rest as dropped', async () => {
    const audit = gw().egress!.audit;
    const now = Date.now();
    const clock = vi.spyOn(Date, 'now').mockReturnValue(now);
    try {
      for (let i = 0; i < 260; i++)
        audit.record(record({ integration: 'flood', host: `f${i}.test` }));
      // Another integration in the same second keeps its own budget.
      for (let i = 0; i < 5; i++) audit.record(record({ integration: 'calm', host: `c${i}.test` }));
    } finally {
      clock.mockRestore();
    }
    await audit.flush();
    const flood = (await api('/egress?integration=flood&limit=500')).body.connections as Row[];
    expect(flood).toHaveLength(200);
    const calm = (await api('/egress?integration=calm')).body.connections as Row[];
    expect(calm).toHaveLength(5);
    const metrics = await gw().metrics.registry.getSingleMetricAsString(
      'switchboard_egress_log_dropped_total',
    );
    expect(metrics).toContain('switchboard_egress_log_dropped_total{cause="rate"} 60');
    const counted = await gw().metrics.registry.getSingleMetricAsString(
      'switchboard_egress_connections_total',
    );
    expect(counted).toContain(
      'switchboard_egress_connections_total{integration="flood",outcome="allowed",reason="none"} 260',
    );
  });

  it('retention deletes rows older than retention.egress and keeps the rest', async () => {
    const { sql } = gw();
    const audit = gw().egress!.audit;
    const old = new Date(Date.now() - 40 * 86_400_000);
    for (let i = 0; i < 30; i++) audit.record(record({ integration: 'old', startedAt: old }));
    await audit.flush();
    const before = await sql<{ n: number }[]>`select count(*)::int as n from egress_connections`;
    const counts = await runRetention(
      sql,
      {
        deliveriesMs: null,
        taskEventsMs: null,
        auditMs: null,
        egressMs: 30 * 86_400_000,
        intervalMs: 60_000,
      },
      { log: createLogger('silent'), batch: 7 },
    );
    expect(counts.egress).toBe(30);
    const after = await sql<{ n: number }[]>`select count(*)::int as n from egress_connections`;
    expect(after[0]!.n).toBe(before[0]!.n - 30);
    expect((await api('/egress?integration=old')).body.connections).toEqual([]);
  });
});
