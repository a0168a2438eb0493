import path from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_BACKOFF, restartDelay } from '../../gateway/src/integrations/upstream/backoff.ts';
import { StdioUpstream } from '../../gateway/src/integrations/upstream/stdio.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { captureLogs, REPO_ROOT } from '../helpers/gateway.ts';

const FIXTURE_DIR = path.join(REPO_ROOT, 'test/fixtures/upstreams');
const upstreams: StdioUpstream[] = [];
afterEach(async () => {
  await Promise.all(upstreams.splice(0).map((u) => u.stop()));
});

function fixture(env: Record<string, string> = {}, timeoutMs = 10_000) {
  const logs = captureLogs();
  const upstream = new StdioUpstream(
    {
      integration: 'fixture',
      command: process.execPath,
      args: ['--import', 'tsx', 'stdio-server.ts'],
      cwd: FIXTURE_DIR,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      requestTimeoutMs: timeoutMs,
    },
    createLogger('debug', logs.stream),
    // Faster than production so the test does not wait 100 ms × 1.5ⁿ for real.
    { initialMs: 50, factor: 2, maxMs: 1_000, resetAfterMs: 30_000 },
  );
  upstreams.push(upstream);
  return { upstream, logs };
}

const text = (result: Awaited<ReturnType<Client['callTool']>>) =>
  (result.content as Array<{ type: string; text: string }>)[0]?.text ?? '';

describe('stdio upstream supervisor', () => {
  it('starts lazily, with only PATH, HOME and the declared settings in its environment', async () => {
    vi.stubEnv('SWITCHBOARD_TEST_SECRET', 'gateway-only'); // restored after the test (unstubEnvs)
    const { upstream, logs } = fixture({ NOTES_DIR: '/tmp/notes' });
    expect(upstream.status().state).toBe('idle');
    const result = await upstream.request((c, timeout) =>
      c.callTool({ name: 'report_env', arguments: {} }, { timeout }),
    );
    const reported = JSON.parse(text(result)) as { env: Record<string, string>; cwd: string };
    expect(Object.keys(reported.env).sort()).toEqual(['HOME', 'NOTES_DIR', 'PATH']);
    expect(reported.cwd).toBe(FIXTURE_DIR);
    expect(upstream.status()).toMatchObject({ state: 'ready', restarts: 0 });
    // stderr reaches the logs, tagged with the integration.
    expect(logs.lines).toContainEqual(
      expect.objectContaining({
        integration: 'fixture',
        stderr: expect.stringMatching(/^fixture started/),
      }),
    );
  });

  it('fails a call in flight at once when the server dies, naming the integration; the next call succeeds', async () => {
    const { upstream, logs } = fixture();
    const first = await upstream.request((c) => c.callTool({ name: 'report_env', arguments: {} }));
    const pid = (JSON.parse(text(first)) as { pid: number }).pid;
    const started = Date.now();
    const call = upstream.request((c) => c.callTool({ name: 'sleep', arguments: { ms: 20_000 } }));
    await new Promise((r) => setTimeout(r, 200));
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await expect(call).rejects.toMatchObject({
      code: 'upstream_unavailable',
      message: 'integration fixture: the server was killed by SIGKILL during the request',
    });
    // The requirement is "within 1 s"; seen here: a few ms. The bound is loose on purpose (shared,
    // noisy machines); what it rules out is waiting for the 20 s call or the request timeout.
    console.log(`call failed ${Date.now() - killedAt} ms after the server was killed`);
    expect(Date.now() - started).toBeLessThan(10_000);
    const next = await upstream.request((c) => c.callTool({ name: 'report_env', arguments: {} }));
    expect((JSON.parse(text(next)) as { pid: number }).pid).not.toBe(pid);
    expect(upstream.status()).toMatchObject({ state: 'ready', restarts: 1 });
    expect(
      logs.lines.filter((l) => l.msg === 'upstream exited; restarting after backoff'),
    ).toHaveLength(1);
  });

  it('backs off further after each consecutive crash', async () => {
    const { upstream, logs } = fixture();
    for (let i = 0; i < 3; i++) {
      await expect(
        upstream.request((c) => c.callTool({ name: 'crash', arguments: { ms: 0 } })),
      ).rejects.toMatchObject({
        message: 'integration fixture: the server exited with code 1 during the request',
      });
    }
    const delays = logs.lines
      .filter((l) => l.msg === 'upstream exited; restarting after backoff')
      .map((l) => l.restartInMs);
    expect(delays).toEqual([50, 100, 200]);
    expect(upstream.status().restarts).toBeGreaterThanOrEqual(2);
  });

  it('times out a request that takes longer than the integration allows', async () => {
    const { upstream } = fixture({}, 300);
    await expect(
      upstream.request((c, timeout) =>
        c.callTool({ name: 'sleep', arguments: { ms: 5_000 } }, { timeout }),
      ),
    ).rejects.toThrow(/timed out/i);
  });

  it('reports a command that cannot start, naming the integration', async () => {
    const upstream = new StdioUpstream(
      {
        integration: 'ghost',
        command: 'definitely-not-a-command',
        args: [],
        cwd: FIXTURE_DIR,
        env: { PATH: process.env.PATH ?? '' },
        requestTimeoutMs: 5_000,
      },
      createLogger('silent'),
    );
    upstreams.push(upstream);
    await expect(upstream.client()).rejects.toMatchObject({
      code: 'upstream_unavailable',
      message: expect.stringContaining(
        'integration ghost: could not start definitely-not-a-command',
      ),
    });
    expect(upstream.status()).toMatchObject({ state: 'failed' });
  });

  it('a server that dies before the handshake is reported with the error it wrote to stderr', async () => {
    const upstream = new StdioUpstream(
      {
        integration: 'early',
        command: process.execPath,
        // Node's own report of an uncaught error: a stack trace, then the "Node.js v…" banner.
        args: ['-e', "throw new Error('listen EADDRINUSE: address already in use 127.0.0.1:5')"],
        cwd: FIXTURE_DIR,
        env: { PATH: process.env.PATH ?? '' },
        requestTimeoutMs: 5_000,
      },
      createLogger('silent'),
    );
    upstreams.push(upstream);
    await expect(upstream.client()).rejects.toMatchObject({
      code: 'upstream_unavailable',
      message: expect.stringContaining(
        'integration early: the server did not complete the MCP handshake (it exited with code 1 (stderr: Error: listen EADDRINUSE: address already in use 127.0.0.1:5))',
      ),
    });
  });

  it('stops a server that ignores SIGTERM with SIGKILL to its process group', async () => {
    const { upstream, logs } = fixture({ IGNORE_SIGTERM: '1' });
    await upstream.client();
    const { pid } = upstream.status();
    // Keep stdin-close from ending it: a busy call holds the event loop open.
    upstream
      .request((c) => c.callTool({ name: 'sleep', arguments: { ms: 60_000 } }))
      .catch(() => {});
    await new Promise((r) => setTimeout(r, 100));
    await upstream.stop();
    expect(() => process.kill(pid!, 0)).toThrow('kill ESRCH');
    const signals = logs.lines.filter((l) => l.msg === 'stopping upstream').map((l) => l.signal);
    expect(signals).toEqual(['SIGTERM', 'SIGKILL']);
  });

  it('skips a message that grows past 10 MiB unread: the server goes on, its call times out', async () => {
    // Issue 13 item 2: this used to SIGKILL the server (failing every call on it); an endless
    // line costs no memory while skipped, and one that answers a request fails that request
    // alone (test/security/upstream-bounds.test.ts). This one has no id: its call times out.
    const { upstream, logs } = fixture();
    const timeout = 2_000;
    const pid = await upstream.request(async (c) => {
      await c.ping();
      return upstream.status().pid;
    });
    await expect(
      upstream.request((c) =>
        c.callTool({ name: 'flood', arguments: { bytes: 11 * 1024 * 1024 } }, { timeout }),
      ),
    ).rejects.toThrow(/timed out/i);
    // The skipped line ends at the next newline: the end of the next answer the server writes,
    // so that answer is lost with it; the one after is read as usual.
    await expect(upstream.request((c) => c.ping({ timeout }))).rejects.toThrow(/timed out/i);
    await upstream.request((c) => c.ping());
    expect(upstream.status()).toMatchObject({ state: 'ready', pid, restarts: 0 });
    expect(logs.lines.find((l) => l.msg === 'upstream message too large')).toMatchObject({
      integration: 'fixture',
      limit: 10 * 1024 * 1024,
    });
    expect(logs.lines.map((l) => l.msg)).not.toContain('upstream exited; restarting after backoff');
  });

  it('logs stderr lines cut at 8 KiB', async () => {
    const { upstream, logs } = fixture();
    await upstream.request((c) => c.callTool({ name: 'shout', arguments: { chars: 20_000 } }));
    // The line is logged when the stderr pipe delivers it, after the call's answer.
    await expect
      .poll(() =>
        logs.lines.find((l) => typeof l.stderr === 'string' && l.stderr.startsWith('eee')),
      )
      .toMatchObject({ stderr: 'e'.repeat(8192) });
  });

  it('uses the production backoff of 100 ms × 1.5 capped at 15 s', () => {
    expect([1, 2, 3, 4].map((n) => restartDelay(DEFAULT_BACKOFF, n))).toEqual([100, 150, 225, 338]);
    expect(restartDelay(DEFAULT_BACKOFF, 40)).toBe(15_000);
  });
});
