/**
 * `instances: session` (issue 13, item 5): a task that belongs to no session (every external
 * task) once fell back to the gateway's own instance, so external tasks shared one process with
 * each other and with webhook handlers (task B read what task A stored), the unaddressed logs of
 * that shared process reached whichever task was following logs, and no task's instance was
 * ever closed when the task ended (UpstreamPool.release had no callers).
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { describe, expect, it } from 'vitest';
import { callHandler } from '../../gateway/src/integrations/handler-call.ts';
import { ADMIN_KEY, type TestGateway } from '../helpers/gateway.ts';
import { useHostileGateway } from '../helpers/hostile.ts';
import {
  eventually,
  type GrantedTask,
  grantTask,
  integrationOf,
  messagesOf,
  post,
  toolCall,
} from '../helpers/mcp-gateway.ts';

/** Starting 25+ tsx servers at once on a shared 2-core machine: a generous handshake bound. */
const SLOW_START_MS = 120_000;

async function callText(
  granted: GrantedTask,
  tool: string,
  args: Record<string, unknown> = {},
): Promise<string> {
  const { url, token } = integrationOf(granted, 'hostile');
  const res = await post(url, token, toolCall(1, tool, args));
  const [answer] = messagesOf(res.headers.get('content-type'), await res.text());
  const result = answer?.result as { content?: Array<{ text?: string }> } | undefined;
  if (!result) throw new Error(`${tool}: ${JSON.stringify(answer)}`);
  return result.content?.[0]?.text ?? '';
}

async function endTask(gw: TestGateway, id: string): Promise<void> {
  const res = await fetch(`${gw.url}/api/v1/tasks/${id}/complete`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: '{}',
  });
  expect(res.status).toBe(200);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function instanceKeys(gw: TestGateway): string[] {
  return (
    gw.registry
      .get('hostile')
      ?.upstream?.status()
      .instances.map((i) => i.key) ?? []
  );
}

async function connect(granted: GrantedTask): Promise<Client> {
  const { url, token } = integrationOf(granted, 'hostile');
  const client = new Client({ name: 'instances-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

describe('instances: session, for tasks without a session', () => {
  const gw = useHostileGateway({
    manifest: `  instances: session\n  timeoutMs: ${SLOW_START_MS}\n`,
  });

  it('gives two external tasks different processes: B cannot read what A stored', async () => {
    const a = await grantTask(gw(), ['hostile:*']);
    const b = await grantTask(gw(), ['hostile:*']);
    expect(await callText(a, 'store_secret', { value: 'secret of A' })).toBe('stored');
    expect(await callText(b, 'read_secret')).toBe('');
    expect(await callText(a, 'read_secret')).toBe('secret of A');
    const pidA = Number(await callText(a, 'pid'));
    const pidB = Number(await callText(b, 'pid'));
    expect(pidA).not.toBe(pidB);
    // A webhook handler runs on the gateway's own instance, never on a task's.
    const handlerPid = await callHandler(gw().registry, 'hostile', 'pid', {});
    expect(handlerPid).not.toBe(pidA);
    expect(handlerPid).not.toBe(pidB);
    expect(instanceKeys(gw())).toEqual(
      expect.arrayContaining(['gateway', `task:${a.task.id}`, `task:${b.task.id}`]),
    );
    await endTask(gw(), a.task.id);
    await endTask(gw(), b.task.id);
  });

  it("never passes another task's unaddressed log messages to a task following logs", async () => {
    const a = await grantTask(gw(), ['hostile:*']);
    const b = await grantTask(gw(), ['hostile:*']);
    const clientA = await connect(a);
    const clientB = await connect(b);
    try {
      const seenA: unknown[] = [];
      const seenB: unknown[] = [];
      clientA.setNotificationHandler('notifications/message', (n) => {
        seenA.push(n.params.data);
      });
      clientB.setNotificationHandler('notifications/message', (n) => {
        seenB.push(n.params.data);
      });
      await clientA.setLoggingLevel('debug');
      await clientB.setLoggingLevel('debug');
      await clientA.callTool({ name: 'pid', arguments: {} }); // A's server is up
      const sleeping = clientA.callTool({ name: 'sleep', arguments: { ms: 3_000 } });
      await eventually(() => {
        const busy = gw()
          .registry.get('hostile')
          ?.upstream?.status()
          .instances.some((i) => i.inFlight > 0);
        expect(busy).toBe(true);
      });
      await clientB.callTool({ name: 'log', arguments: { data: 'log of B' } });
      await sleeping;
      // B owns its instance, so its own log reaches it; A, following logs meanwhile, saw nothing.
      expect(seenB).toContain('log of B');
      expect(seenA).not.toContain('log of B');
    } finally {
      await clientA.close();
      await clientB.close();
      await endTask(gw(), a.task.id);
      await endTask(gw(), b.task.id);
    }
  });

  it("closes a task's instance when the task ends (the process is gone)", async () => {
    const a = await grantTask(gw(), ['hostile:*']);
    const b = await grantTask(gw(), ['hostile:*']);
    const pidA = Number(await callText(a, 'pid'));
    const pidB = Number(await callText(b, 'pid'));
    await endTask(gw(), a.task.id);
    await eventually(() => expect(alive(pidA)).toBe(false), 30_000);
    expect(instanceKeys(gw())).not.toContain(`task:${a.task.id}`);
    // Another task's instance is untouched.
    expect(alive(pidB)).toBe(true);
    expect(await callText(b, 'pid')).toBe(String(pidB));
    await endTask(gw(), b.task.id);
    await eventually(() => expect(alive(pidB)).toBe(false), 30_000);
  });

  it('leaves no process behind after 25 tasks at once have ended', async () => {
    const count = 25;
    const tasks = await Promise.all(
      Array.from({ length: count }, () => grantTask(gw(), ['hostile:*'])),
    );
    const pids = (await Promise.all(tasks.map((t) => callText(t, 'pid')))).map(Number);
    expect(new Set(pids).size).toBe(count);
    expect(pids.every(alive)).toBe(true);
    await Promise.all(tasks.map((t) => endTask(gw(), t.task.id)));
    await eventually(() => expect(pids.filter(alive)).toEqual([]), 60_000);
    expect(instanceKeys(gw()).filter((k) => k.startsWith('task:'))).toEqual([]);
  }, 240_000);
});
