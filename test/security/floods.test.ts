/**
 * Floods from one integration (issue 13 items 7 and 8): the hostile fixture
 * (test/fixtures/hostile/behaviours/floods.ts) sends list changes, progress and stderr as fast
 * as its pipe takes them, reports progress for ever, or keeps a flood up for seconds, while a
 * quiet copy of it serves other tasks. Bounds are counts, never milliseconds.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, describe, expect, it } from 'vitest';
import { STDERR_BYTES_PER_S } from '../../gateway/src/integrations/upstream/flood-meter.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { useHostileGateway } from '../helpers/hostile.ts';
import { eventually, grantTask, integrationOf } from '../helpers/mcp-gateway.ts';

const clients: Client[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
});

/** A 2026-07-28 client (2025 where the gateway answers so) on one endpoint of a task. */
async function connect(url: string, token: string): Promise<Client> {
  const client = new Client(
    { name: 'flood-test', version: '1.0.0' },
    { versionNegotiation: { mode: 'auto' } },
  );
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  clients.push(client);
  return client;
}

async function endpoint(gw: TestGateway, name: string): Promise<Client> {
  const granted = await grantTask(gw, [`${name}:*`]);
  const { url, token } = integrationOf(granted, name);
  return connect(url, token);
}

const textOf = (result: unknown) =>
  ((result as { content: Array<{ text: string }> }).content[0] as { text: string }).text;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('floods from one integration', () => {
  // The deadline is small so progress_forever ends in the test; echo and the floods take less.
  const gw = useHostileGateway({ quiet: true, policy: '    maxCallDuration: 15s\n' });

  it('5,000 tools/list_changed reach another task’s listen stream as a few', async () => {
    const granted = await grantTask(gw(), ['hostile:*', 'quiet:*']);
    const listener = await connect(granted.mcp.url, granted.mcp.token);
    let heard = 0;
    listener.setNotificationHandler('notifications/tools/list_changed', () => {
      heard += 1;
    });
    const subscription = await listener.listen({ toolsListChanged: true });
    const flooder = await endpoint(gw(), 'hostile');
    const sent = await flooder.callTool({ name: 'flood_list_changed', arguments: { count: 5000 } });
    expect(textOf(sent)).toBe('sent 5000');
    await eventually(() => expect(heard).toBeGreaterThan(0));
    // Long enough for the trailing notification of the last second (1/s per integration).
    await sleep(3_000);
    expect(heard).toBeLessThanOrEqual(10);
    // The quiet integration answers the listener's task meanwhile.
    const quiet = await listener.callTool({ name: 'quiet__echo', arguments: { text: 'hi' } });
    expect(textOf(quiet)).toBe('hi');
    await subscription.close();
  });

  it('5,000 progress notifications of one call reach its caller as at most 100, then the result', async () => {
    const caller = await endpoint(gw(), 'hostile');
    let progress = 0;
    const result = await caller.callTool(
      { name: 'flood_progress', arguments: { count: 5000 } },
      {
        onprogress: () => {
          progress += 1;
        },
      },
    );
    expect(textOf(result)).toBe('done 5000');
    expect(progress).toBeGreaterThan(0);
    // A burst of 10, then 10 a second while the gateway reads the flood at its own pace
    // (~1,000 notifications a second: paced-reading.ts), so ~60 in all; 2 % of what was sent.
    expect(progress).toBeLessThanOrEqual(100);
  });

  it('a call without a progress token reaches the upstream without one', async () => {
    const caller = await endpoint(gw(), 'hostile');
    expect(textOf(await caller.callTool({ name: 'progress_token', arguments: {} }))).toBe('none');
    const asked = await caller.callTool(
      { name: 'progress_token', arguments: {} },
      { onprogress: () => {} },
    );
    expect(textOf(asked)).toBe('present');
  });

  it('3 MB of stderr is logged within the per-second budget, and the drops are counted', async () => {
    const caller = await endpoint(gw(), 'hostile');
    const before = gw().logs.lines.length;
    const started = Date.now();
    const wrote = await caller.callTool({ name: 'flood_stderr', arguments: { bytes: 3_000_000 } });
    // 3 MB, not more: on a loaded machine a longer flood lasts 10 s and the integration is
    // (rightly) refused as upstream_flooding, which the next test's call would then meet.
    expect(textOf(wrote)).toMatch(/^wrote \d+/);
    const seconds = Math.ceil((Date.now() - started) / 1000);
    const dropped = await eventually(() => {
      const found = gw()
        .logs.lines.slice(before)
        .filter((l) => /^dropped \d+ bytes of stderr in the last 5s/.test(String(l.msg)));
      expect(found.length).toBeGreaterThan(0);
      return found;
    }, 15_000);
    expect(dropped[0]).toMatchObject({ integration: 'hostile' });
    const logged = gw()
      .logs.lines.slice(before)
      .filter((l) => l.msg === 'upstream stderr' && l.integration === 'hostile');
    const bytes = logged.reduce((sum, l) => sum + String(l.stderr).length + 1, 0);
    // The budget of each second the flood touched (+2: its first and last partial seconds).
    expect(bytes).toBeLessThanOrEqual(STDERR_BYTES_PER_S * (seconds + 2));
    expect(bytes).toBeLessThan(3_000_000 / 2);
    const droppedBytes = dropped.reduce((sum, l) => sum + Number(l.droppedBytes), 0);
    expect(droppedBytes).toBeGreaterThan(0);
  });

  it('a call reporting progress for ever ends at the policy deadline with a timeout', async () => {
    const caller = await endpoint(gw(), 'hostile');
    let progress = 0;
    const call = caller.callTool(
      { name: 'progress_forever', arguments: {} },
      {
        // The client's own bound is far past the policy's 15 s: the gateway must end it first.
        timeout: 45_000,
        resetTimeoutOnProgress: true,
        onprogress: () => {
          progress += 1;
        },
      },
    );
    await expect(call).rejects.toMatchObject({
      message: expect.stringContaining('ran past its deadline'),
      data: { code: 'upstream_timeout', integration: 'hostile' },
    });
    expect(progress).toBeGreaterThan(0);
    // The gateway is fine afterwards: the same integration answers the next call.
    expect(textOf(await caller.callTool({ name: 'echo', arguments: { text: 'after' } }))).toBe(
      'after',
    );
  });
});

describe('an integration that keeps flooding', () => {
  const gw = useHostileGateway({ quiet: true });

  it('is refused as upstream_flooding while the quiet one keeps answering', async () => {
    const flooder = await endpoint(gw(), 'hostile');
    const quiet = await endpoint(gw(), 'quiet');
    const started = await flooder.callTool({
      name: 'flood_sustained',
      arguments: { seconds: 30, perSecond: 2000 },
    });
    expect(textOf(started)).toBe('flooding for 30 s');
    const item = await eventually(() => {
      const found = gw().registry.get('hostile');
      expect(found?.state).toBe('refused');
      return found!;
    }, 40_000);
    expect(item.reasons).toEqual([
      { code: 'upstream_flooding', message: expect.stringContaining('10 s in a row') },
    ]);
    expect(textOf(await quiet.callTool({ name: 'echo', arguments: { text: 'still here' } }))).toBe(
      'still here',
    );
    expect(gw().registry.get('quiet')?.state).toBe('ready');
    // Its server was stopped: the flood ended with it.
    await eventually(() => expect(item.upstream).toBeUndefined(), 15_000);
  }, 90_000);
});

describe('an integration process writing stderr without end', () => {
  // A background process (manifest `processes`) that writes 100-byte lines as fast as it can.
  const writer = `const l = 'y'.repeat(99) + '\\n'; (function w() { process.stderr.write(l.repeat(1000), w); })();`;
  // No quiet copy here: the helper gives every copy the same manifest lines.
  const gw = useHostileGateway({
    // sessions.write: the process gets an API key of its own, which must not outlive it.
    manifest: `capabilities: [processes, sessions.write]\nprocesses:\n  - name: noisy\n    command: node\n    args: ["-e", ${JSON.stringify(writer)}]\n`,
    policy: '    grants: [processes, sessions.write]\n',
  });

  it('is logged within the budget, its drops counted, and refused as upstream_flooding', async () => {
    const item = await eventually(() => {
      const found = gw().registry.get('hostile');
      expect(found?.state).toBe('refused');
      return found!;
    }, 40_000);
    expect(item.reasons.map((r) => r.code)).toEqual(['upstream_flooding']);
    const lines = gw().logs.lines.filter((l) => l.integration === 'hostile');
    const logged = lines.filter((l) => l.msg === 'process output');
    // The budget is per wall-clock second (flood-meter.ts): the bytes logged in each second, by
    // the lines' own log times, stay within it. Not measured against the test's clock: under a
    // loaded CI the process started more than 5 s before the test's first look and a bound of
    // (seconds + 5) budgets failed by 1 % (727,100 > 720,896 bytes). Slack of one KiB: a line
    // counted in one second can be stamped by the logger a millisecond into the next.
    const perSecond = new Map<number, number>();
    for (const l of logged) {
      const second = Math.floor(Date.parse(String(l.time)) / 1000);
      perSecond.set(second, (perSecond.get(second) ?? 0) + String(l.stderr).length + 1);
    }
    expect(perSecond.size).toBeGreaterThan(0);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(STDERR_BYTES_PER_S + 1024);
    const dropped = lines.filter((l) => /^dropped \d+ bytes of stderr/.test(String(l.msg)));
    expect(dropped.length).toBeGreaterThan(0);
    expect(Number(dropped[0]?.droppedBytes)).toBeGreaterThan(0);
    // Its processes stopped, their API key goes with them (as any refusal after start): it
    // stayed valid until a reload before.
    const keys = () => gw().sql<{ revoked: boolean }[]>`
      select revoked_at is not null as revoked from api_keys
       where source = 'integration' and integration = 'hostile'`;
    expect(await keys()).not.toHaveLength(0); // it had one
    await eventually(async () => expect((await keys()).every((k) => k.revoked)).toBe(true), 15_000);
    // The gateway itself is fine.
    expect((await fetch(`${gw().url}/readyz`)).status).toBe(200);
  }, 90_000);
});
