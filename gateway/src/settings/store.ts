import type { Sql } from '../db/connect.ts';

export interface SettingRow {
  integration: string;
  key: string;
  secret: boolean;
  valuePlain: string | null;
  valueEncrypted: Buffer | null;
  updatedBy: string | null;
  updatedAt: Date;
}

export async function upsertSetting(
  sql: Sql,
  row: {
    integration: string;
    key: string;
    secret: boolean;
    valuePlain: string | null;
    valueEncrypted: Buffer | null;
    updatedBy: string;
  },
): Promise<void> {
  await sql`
    insert into settings (integration, key, secret, value_plain, value_encrypted, updated_by)
    values (${row.integration}, ${row.key}, ${row.secret}, ${row.valuePlain},
            ${row.valueEncrypted}, ${row.updatedBy})
    on conflict (integration, key) do update set
      secret = excluded.secret, value_plain = excluded.value_plain,
      value_encrypted = excluded.value_encrypted, updated_by = excluded.updated_by,
      updated_at = now()`;
}

export async function deleteSetting(sql: Sql, integration: string, key: string): Promise<boolean> {
  const result =
    await sql`delete from settings where integration = ${integration} and key = ${key}`;
  return result.count > 0;
}

export async function listSettings(sql: Sql, integration: string): Promise<SettingRow[]> {
  const rows = await sql<SettingRow[]>`
    select integration, key, secret, value_plain as "valuePlain",
           value_encrypted as "valueEncrypted", updated_by as "updatedBy", updated_at as "updatedAt"
    from settings where integration = ${integration} order by key`;
  return rows.map((r) => ({
    ...r,
    valueEncrypted: r.valueEncrypted ? Buffer.from(r.valueEncrypted) : null,
  }));
}
