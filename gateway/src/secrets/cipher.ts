import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SwitchboardError } from '../errors.ts';

/**
 * AES-256-GCM for secrets at rest. Stored form: iv (12 bytes) ‖ tag (16) ‖ ciphertext. The
 * associated data binds a value to where it belongs (e.g. "github/GITHUB_TOKEN"), so a value
 * copied into another row fails to decrypt instead of leaking under another name.
 *
 * The tag length is fixed at 16 on both sides (`authTagLength`): Node's decipher otherwise
 * accepts a tag of 4 or 8 bytes, and a value cut short to iv ‖ 4 tag bytes could be forged
 * in about 2^32 tries.
 */
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function encryptSecret(key: Buffer, plaintext: string, associatedData: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

export function decryptSecret(key: Buffer, stored: Buffer, associatedData: string): string {
  try {
    if (stored.length < IV_BYTES + TAG_BYTES) throw new Error('shorter than iv and tag');
    const decipher = createDecipheriv('aes-256-gcm', key, stored.subarray(0, IV_BYTES), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(stored.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([
      decipher.update(stored.subarray(IV_BYTES + TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
  } catch (error) {
    throw new SwitchboardError(
      'secret_undecryptable',
      `the stored secret ${associatedData} cannot be decrypted: SWITCHBOARD_MASTER_KEY is not the key it was written with`,
      { cause: error },
    );
  }
}
