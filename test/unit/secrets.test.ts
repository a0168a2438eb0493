import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../gateway/src/log.ts';
import { decryptSecret, encryptSecret } from '../../gateway/src/secrets/cipher.ts';
import { loadMasterKey } from '../../gateway/src/secrets/master-key.ts';
import { maskedSettings, resolveSettings } from '../../gateway/src/settings/resolve.ts';
import type { SettingRow } from '../../gateway/src/settings/store.ts';
import { captureLogs } from '../helpers/gateway.ts';

const key = Buffer.alloc(32, 1);

describe('secrets at rest (AES-256-GCM)', () => {
  it('round-trips, and each encryption differs (fresh IV)', () => {
    const a = encryptSecret(key, 'ghp_secret', 'github/GITHUB_TOKEN');
    const b = encryptSecret(key, 'ghp_secret', 'github/GITHUB_TOKEN');
    expect(a.equals(b)).toBe(false);
    expect(a.includes(Buffer.from('ghp_secret'))).toBe(false);
    expect(decryptSecret(key, a, 'github/GITHUB_TOKEN')).toBe('ghp_secret');
  });

  it('refuses a value moved to another row, or read with another key', () => {
    const stored = encryptSecret(key, 'ghp_secret', 'github/GITHUB_TOKEN');
    expect(() => decryptSecret(key, stored, 'chat/CHAT_SIGNING_SECRET')).toThrow(
      'the stored secret chat/CHAT_SIGNING_SECRET cannot be decrypted',
    );
    expect(() => decryptSecret(Buffer.alloc(32, 2), stored, 'github/GITHUB_TOKEN')).toThrow(
      /SWITCHBOARD_MASTER_KEY is not the key it was written with/,
    );
  });

  it('refuses a value whose authentication tag was cut short (GCM accepts 4-byte tags)', () => {
    // An empty secret is iv (12) ‖ tag (16); keeping 4 bytes of the tag leaves a value an
    // attacker could forge with 2^32 tries if the tag length were not fixed at 16.
    const stored = encryptSecret(key, '', 'github/GITHUB_TOKEN');
    expect(decryptSecret(key, stored, 'github/GITHUB_TOKEN')).toBe('');
    for (const tagBytes of [4, 8, 12, 15]) {
      const short = stored.subarray(0, 12 + tagBytes);
      expect(() => decryptSecret(key, short, 'github/GITHUB_TOKEN'), `${tagBytes}`).toThrow(
        'the stored secret github/GITHUB_TOKEN cannot be decrypted',
      );
    }
  });

  it('generates a development master key once, mode 0600, and warns', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-key-'));
    const logs = captureLogs();
    const first = loadMasterKey(undefined, dir, createLogger('warn', logs.stream));
    const again = loadMasterKey(undefined, dir, createLogger('silent'));
    expect(first.length).toBe(32);
    expect(again.equals(first)).toBe(true);
    expect(fs.statSync(path.join(dir, 'master.key')).mode & 0o777).toBe(0o600);
    expect(logs.text()).toContain('SWITCHBOARD_MASTER_KEY is not set');
    expect(loadMasterKey(key, dir, createLogger('silent'))).toBe(key);
  });
});

describe('setting resolution', () => {
  const declared = [
    { key: 'FROM_DB', secret: true, required: true },
    { key: 'FROM_ENV', secret: false, required: true },
    { key: 'FROM_POLICY', secret: true, required: false },
    { key: 'FROM_DEFAULT', secret: false, required: false, default: 'eu' },
    { key: 'MISSING', secret: true, required: true },
  ];
  const rows: SettingRow[] = [
    {
      integration: 'x',
      key: 'FROM_DB',
      secret: true,
      valuePlain: null,
      valueEncrypted: encryptSecret(key, 'db-secret', 'x/FROM_DB'),
      updatedBy: 'cli:t',
      updatedAt: new Date(),
    },
    {
      integration: 'x',
      key: 'UNDECLARED',
      secret: false,
      valuePlain: 'ignored',
      valueEncrypted: null,
      updatedBy: 'cli:t',
      updatedAt: new Date(),
    },
  ];

  it('takes DB → environment → policy → manifest default, and only declared keys', () => {
    const resolved = resolveSettings('x', declared, {
      rows,
      env: {
        SWITCHBOARD_SETTING_X__FROM_DB: 'env-loses',
        SWITCHBOARD_SETTING_X__FROM_ENV: 'env-value',
        SWITCHBOARD_SETTING_X__UNDECLARED: 'no',
        // A variable of the key's own name is not the integration's: never read.
        FROM_POLICY: 'plain-name-ignored',
        DATABASE_URL: 'no',
      },
      policy: { FROM_POLICY: 'dev-only', FROM_DEFAULT: '' },
      masterKey: key,
    });
    expect(resolved.map((r) => [r.key, r.value, r.source])).toEqual([
      ['FROM_DB', 'db-secret', 'database'],
      ['FROM_ENV', 'env-value', 'environment'],
      ['FROM_POLICY', 'dev-only', 'policy'],
      ['FROM_DEFAULT', 'eu', 'default'],
      ['MISSING', undefined, undefined],
    ]);
    // Secrets and every environment value are masked.
    expect(maskedSettings(resolved).map((s) => s.value)).toEqual([
      '******',
      '******',
      '******',
      'eu',
      null,
    ]);
  });
});
