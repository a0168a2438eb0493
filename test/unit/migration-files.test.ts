import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMigrations } from '../../gateway/src/db/migrate.ts';

function dirWith(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-migrations-'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

describe('migration files', () => {
  it('are read in order with a sha256 checksum each', () => {
    const migrations = readMigrations(
      dirWith({ '0002_b.sql': 'select 2;', '0001_a.sql': 'select 1;', 'README.md': '' }),
    );
    expect(migrations.map((m) => [m.id, m.name])).toEqual([
      [1, '0001_a.sql'],
      [2, '0002_b.sql'],
    ]);
    expect(migrations[0]?.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuse a gap in the numbering, naming the file', () => {
    const dir = dirWith({ '0001_a.sql': '', '0003_c.sql': '' });
    expect(() => readMigrations(dir)).toThrow(
      `${path.join(dir, '0003_c.sql')}: expected migration number 0002`,
    );
  });

  it('refuse a badly named file', () => {
    const dir = dirWith({ '1_init.sql': '' });
    expect(() => readMigrations(dir)).toThrow(
      /1_init\.sql: expected a name like 0002_add_outbox\.sql/,
    );
  });

  it('include the shipped 0001_init.sql', () => {
    expect(readMigrations()[0]?.name).toBe('0001_init.sql');
  });
});
