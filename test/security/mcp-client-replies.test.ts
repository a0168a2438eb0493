/**
 * Replies of 2025-era clients to the gateway's server→client requests, across replicas
 * (gateway/src/mcp/client-replies.ts, migration 0018): two ClientReplies, as two gateway
 * processes hold them, on one real database and its bus (LISTEN/NOTIFY on PostgreSQL; on the
 * embedded PGlite the in-process bus, the same hand-over through the table). The transports are
 * minimal ones that record what the gateway sends and take what it hands back: the seam a
 * per-request MCP server's transport fills (the full path through two real gateway processes
 * is test/integration/mcp-client-input-replicas.test.ts).
 */
import type { JSONRPCMessage, Transport } from '@modelcontextprotocol/server';
import type { Retention } from '@switchboard/policy';
import { describe, expect, it } from 'vitest';
import { type EventBus, InProcessBus, PostgresBus } from '../../gateway/src/db/bus.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { ClientReplies, MAX_WAITS_PER_TOKEN } from '../../gateway/src/mcp/client-replies.ts';
import { insertWait } from '../../gateway/src/mcp/client-reply-store.ts';
import { upsertInitialize } from '../../gateway/src/mcp/era-2025-store.ts';
import { MAX_BODY_BYTES } from '../../gateway/src/mcp/http-bridge.ts';
import { runRetention } from '../../gateway/src/retention/job.ts';
import type { TokenClaims } from '../../gateway/src/tokens/claims.ts';
import { useMigratedDatabase, usingPostgres } from '../helpers/database.ts';

const log = createLogger('silent');
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

function claims(name: string): TokenClaims {
  return {
    tokenId: `jti-${name}`,
    taskId: `task-${name}`,
    sessionId: null,
    profile: null,
    scope: ['fixture:*'],
    audience: 'http://127.0.0.1/mcp',
    expiresAt: inAnHour(),
  };
}

/** What a per-request server's transport is to ClientReplies: sends out, messages in. */
function transport(): Transport & { sent: JSONRPCMessage[]; received: JSONRPCMessage[] } {
  const sent: JSONRPCMessage[] = [];
  const received: JSONRPCMessage[] = [];
  return {
    sent,
    received,
    async start() {},
    async close() {},
    async send(message) {
      sent.push(message);
    },
    onmessage: (message) => received.push(message),
  };
}

const elicit = (id: number): JSONRPCMessage =>
  ({
    jsonrpc: '2.0',
    id,
    method: 'elicitation/create',
    params: { message: 'Name?', requestedSchema: { type: 'object', properties: {} } },
  }) as JSONRPCMessage;

const answer = (id: unknown, content: unknown = { name: 'ada' }): JSONRPCMessage =>
  ({ jsonrpc: '2.0', id, result: { action: 'accept', content } }) as JSONRPCMessage;

describe('2025-era client replies across replicas', () => {
  const database = useMigratedDatabase();

  async function replicas(): Promise<{
    a: ClientReplies;
    b: ClientReplies;
    close(): Promise<void>;
  }> {
    const sql = database().sql;
    const bus: EventBus = usingPostgres ? new PostgresBus(sql, log) : new InProcessBus();
    const a = new ClientReplies({ sql, bus, log, instance: 'replica-a' });
    const b = new ClientReplies({ sql, bus, log, instance: 'replica-b' });
    return { a, b, close: () => Promise.all([a.close(), b.close()]).then(() => {}) };
  }

  const waits = async (tokenId?: string): Promise<number> => {
    const sql = database().sql;
    const [row] = tokenId
      ? await sql`select count(*)::int as n from client_reply_waits where token_id = ${tokenId}`
      : await sql`select count(*)::int as n from client_reply_waits`;
    return row?.n as number;
  };

  it('another task’s token can neither answer nor learn of a request, on either replica; its own token answers once, through the other replica', async () => {
    const { a, b, close } = await replicas();
    const x = claims('x');
    const y = claims('y');
    const t = transport();
    const detach = a.attach(x, t);
    await t.send(elicit(0));
    const asked = t.sent[0] as { id: string };
    expect(asked.id).toMatch(/^switchboard-\d+$/);
    // Token y, with x's id, on the replica holding it and on the other: refused, nothing written.
    expect(await a.deliver(y, answer(asked.id))).toBe(false);
    expect(await b.deliver(y, answer(asked.id))).toBe(false);
    const [row] = await database().sql`select reply from client_reply_waits`;
    expect(row?.reply).toBeNull();
    // The same refusal for an id nobody asked with: nothing to tell the two apart.
    expect(await b.deliver(y, answer('switchboard-99999999'))).toBe(false);
    expect(t.received).toEqual([]);
    // x answers through B: handed over to A, by the id A's server gave the request.
    expect(await b.deliver(x, answer(asked.id))).toBe(true);
    await expect.poll(() => t.received.length).toBe(1);
    expect(t.received[0]).toEqual(answer(0));
    expect(await waits()).toBe(0);
    // Answered once: a second reply (a replay) finds nothing, on either replica.
    expect(await b.deliver(x, answer(asked.id))).toBe(false);
    expect(await a.deliver(x, answer(asked.id))).toBe(false);
    expect(t.received).toHaveLength(1);
    detach();
    await close();
  });

  it('a request the server gives up on is cancelled by the id the client saw, not its own', async () => {
    const { a, close } = await replicas();
    const t = transport();
    const detach = a.attach(claims('cancel'), t);
    await t.send(elicit(0));
    const asked = t.sent[0] as { id: string };
    await t.send({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: 0, reason: 'timeout' },
    } as JSONRPCMessage);
    expect(t.sent[1]).toEqual({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: asked.id, reason: 'timeout' },
    });
    detach();
    await close();
  });

  it('a flood of replies to ids nobody asked creates no row and is refused', async () => {
    const { a, b, close } = await replicas();
    const x = claims('flood-x');
    const t = transport();
    const detach = a.attach(x, t);
    await t.send(elicit(0));
    const asked = t.sent[0] as { id: string };
    const attacker = claims('flood-y');
    const ids: unknown[] = [asked.id, 0, 1, -1, 'switchboard-', 'switchboard-1e3', 'x'.repeat(500)];
    for (let n = 0; n < 300; n++) ids.push(`switchboard-${n}`, `switchboard-${2 ** 40 + n}`);
    let accepted = 0;
    for (const id of ids) {
      for (const replica of [a, b]) if (await replica.deliver(attacker, answer(id))) accepted += 1;
    }
    // And x itself, to ids it was never asked with.
    for (let n = 0; n < 50; n++) {
      if (await b.deliver(x, answer(`switchboard-${2 ** 41 + n}`))) accepted += 1;
    }
    expect(accepted).toBe(0);
    expect(await waits()).toBe(1);
    expect(t.received).toEqual([]);
    detach();
    await expect.poll(() => waits()).toBe(0);
    await close();
  });

  it('a reply over the MCP body limit is refused and the request still waits', async () => {
    const { a, b, close } = await replicas();
    const x = claims('big');
    const t = transport();
    const detach = a.attach(x, t);
    await t.send(elicit(0));
    const asked = t.sent[0] as { id: string };
    const huge = answer(asked.id, { name: 'x'.repeat(MAX_BODY_BYTES) });
    expect(await b.deliver(x, huge)).toBe(false);
    expect(await a.deliver(x, huge)).toBe(false);
    const [row] = await database().sql`select reply from client_reply_waits`;
    expect(row?.reply).toBeNull();
    expect(await b.deliver(x, answer(asked.id))).toBe(true);
    await expect.poll(() => t.received.length).toBe(1);
    detach();
    await close();
  });

  it(`one token has at most ${MAX_WAITS_PER_TOKEN} requests waiting; another token is not affected`, async () => {
    const { a, close } = await replicas();
    const x = claims('many');
    const t = transport();
    const detach = a.attach(x, t);
    for (let n = 0; n < MAX_WAITS_PER_TOKEN; n++) await t.send(elicit(n));
    await expect(t.send(elicit(MAX_WAITS_PER_TOKEN))).rejects.toThrow(/requests wait/);
    expect(await waits(x.tokenId)).toBe(MAX_WAITS_PER_TOKEN);
    expect(t.sent).toHaveLength(MAX_WAITS_PER_TOKEN);
    const other = transport();
    const detachOther = a.attach(claims('other'), other);
    await other.send(elicit(0));
    expect(other.sent).toHaveLength(1);
    // The call ended: its waits are deleted with it.
    detach();
    detachOther();
    await expect.poll(() => waits()).toBe(0);
    await close();
  });

  it('expired waits (a replica that died) and expired handshakes are swept by the retention job; a reply into an expired wait is refused', async () => {
    const sql = database().sql;
    const { b, close } = await replicas();
    const past = Math.floor(Date.now() / 1000) - 60;
    const expiredIds: string[] = [];
    for (let n = 0; n < 30; n++) {
      expiredIds.push((await insertWait(sql, 'jti-dead', 'replica-dead', past, 1000)) as string);
      await upsertInitialize(sql, `jti-dead-${n}`, { sampling: {} }, past);
    }
    for (let n = 0; n < 5; n++) {
      await insertWait(sql, 'jti-live', 'replica-live', inAnHour(), 1000);
      await upsertInitialize(sql, `jti-live-${n}`, { sampling: {} }, inAnHour());
    }
    expect(await b.deliver(claims('dead'), answer(`switchboard-${expiredIds[0]}`))).toBe(false);
    const off: Retention = {
      deliveriesMs: null,
      taskEventsMs: null,
      auditMs: null,
      egressMs: null,
      intervalMs: 1,
    };
    const counts = await runRetention(sql, off, { log, batch: 7 });
    expect(counts).toMatchObject({ replyWaits: 30, handshakes: 30 });
    expect(await waits()).toBe(5);
    const [left] = await sql`select count(*)::int as n from era2025_handshakes`;
    expect(left?.n).toBe(5);
    await close();
  });
});
