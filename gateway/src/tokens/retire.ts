import { type AuditActor, appendAudit } from '../audit/store.ts';
import type { EventBus } from '../db/bus.ts';
import type { Pool } from '../db/connect.ts';
import { notFound } from '../errors.ts';
import type { Logger } from '../log.ts';
import { REVOCATION_CHANNEL } from './service.ts';
import { retireKeyNow } from './signing-keys.ts';
import { revokeKeyTokens } from './store.ts';

/**
 * The emergency retirement of a signing key (`switchboard keys retire-signing`, issue 12 L8):
 * unlike a rotation, which lets the old key verify its tokens until they expire, the key stops
 * signing and verifying now and every token it signed is revoked, in one audited transaction.
 * Then every gateway process hears of it on the revocation channel (as for a task's tokens):
 * they drop the key and its cached tokens at once, instead of within the 60 s key reload and
 * the 5 s sync of the live token records. Another key signs from now on (tokens of running
 * tasks are not re-issued: their agents need a new config, `switchboard mcp-config`).
 */
export interface RetireDeps {
  sql: Pool;
  masterKey: Buffer;
  /** The processes' revocation channel: a PostgresBus from a CLI, the gateway's own bus in it. */
  bus: EventBus;
  log: Logger;
}

export interface Retirement {
  kid: string;
  /** The key that signs from now on. */
  signingKid: string;
  /** The key had to be made (no other key was signing or waiting to). */
  created: boolean;
  revokedTokens: number;
  /** The tasks whose tokens were revoked (running tasks lose their access). */
  tasks: number;
  /** The other processes were told; false: they find out within 60 s (key reload), 5 s (sync). */
  announced: boolean;
}

export async function retireSigningKey(
  deps: RetireDeps,
  kid: string,
  actor: AuditActor,
): Promise<Retirement> {
  const done = await deps.sql.begin(async (tx) => {
    const key = await retireKeyNow(tx, deps.masterKey, kid);
    if (!key) {
      throw notFound(`no signing key ${JSON.stringify(kid)} that still verifies tokens`);
    }
    const revoked = await revokeKeyTokens(tx, kid);
    const tasks = new Set(revoked.map((r) => r.taskId)).size;
    await appendAudit(tx, {
      ...actor,
      action: 'signing_keys.retire',
      target: kid,
      details: {
        revokedTokens: revoked.length,
        tasks,
        signingKid: key.signingKid,
        createdKey: key.created,
      },
    });
    return { kid, ...key, revokedTokens: revoked.length, tasks };
  });
  let announced = true;
  try {
    // Ids only (NOTIFY payloads are ≤ 8000 bytes): a key's tokens may be thousands.
    await deps.bus.publish(
      REVOCATION_CHANNEL,
      JSON.stringify({ taskIds: [], tokenIds: [], kids: [kid] }),
    );
  } catch (error) {
    announced = false;
    deps.log.error({ err: error, kid }, 'could not announce a signing key retirement');
  }
  return { ...done, announced };
}
