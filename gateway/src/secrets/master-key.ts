import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { decodeMasterKey } from '../config.ts';
import { SwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';

/**
 * The key that encrypts secrets at rest. Production sets SWITCHBOARD_MASTER_KEY; without it a
 * key is generated once into the data dir (mode 0600) so development needs no setup, with a
 * warning each start: a key beside the data it protects protects little.
 */
export function loadMasterKey(
  configured: Buffer | undefined,
  dataDir: string,
  log: Logger,
): Buffer {
  if (configured) return configured;
  const file = path.join(dataDir, 'master.key');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    try {
      fs.writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, {
        mode: 0o600,
        flag: 'wx',
      });
    } catch (error) {
      // Another process generated it first: use theirs.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  const key = decodeMasterKey(fs.readFileSync(file, 'utf8').trim());
  if (!key) {
    throw new SwitchboardError(
      'master_key_invalid',
      `${file} does not hold a 32-byte key (64 hex characters or base64); restore it or set SWITCHBOARD_MASTER_KEY`,
    );
  }
  log.warn(
    { file },
    'SWITCHBOARD_MASTER_KEY is not set: using a key generated in the data dir (development only)',
  );
  return key;
}
