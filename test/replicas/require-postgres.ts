/**
 * The replica suite runs only on PostgreSQL: the embedded PGlite admits one process, and three
 * gateway processes on one database is the point. Without DATABASE_URL it fails at once, saying
 * so, rather than skipping.
 */
export default function requirePostgres(): void {
  if (!process.env.DATABASE_URL) {
    throw new Error(
      'the replica suite (test/replicas) needs PostgreSQL; run it as ' +
        'DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run test:replicas',
    );
  }
}
