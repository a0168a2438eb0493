import type { Pool, Sql } from './connect.ts';

/**
 * Runs `fn` in a transaction whose statements the server cancels after `ms` (`set local`: the
 * setting ends with the transaction, so the pooled connection goes back unchanged). For reads
 * that must never hold the database for long, such as the queue metrics computed on a scrape.
 */
export function withStatementTimeout<T>(
  sql: Pool,
  ms: number,
  fn: (tx: Sql) => Promise<T>,
): Promise<T> {
  const bound = Math.max(1, Math.floor(ms));
  return sql.begin(async (tx) => {
    await tx.unsafe(`set local statement_timeout = ${bound}`);
    return fn(tx);
  }) as Promise<T>;
}
