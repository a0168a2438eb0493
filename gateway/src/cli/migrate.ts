import { migrate as applyMigrations, readMigrations } from '../db/migrate.ts';
import { type Command, HELP_OPTION, parseCommandArgs } from './command.ts';
import { withDatabase } from './database.ts';

const usage = `Usage: switchboard migrate

Apply pending migrations from migrations/ to the configured database and exit. Safe to run
while other replicas start: an advisory lock makes each migration apply once. Refuses a
database that has a migration this build does not know, or an edited migration.`;

export const migrate: Command = {
  name: 'migrate',
  summary: 'apply pending database migrations',
  usage,
  async run(args, ctx) {
    const { values } = parseCommandArgs(args, HELP_OPTION, usage);
    if (values.help) {
      ctx.out(usage);
      return 0;
    }
    const migrations = readMigrations();
    const applied = await withDatabase(ctx, (sql, log) => applyMigrations(sql, log, migrations), {
      migrate: false,
    });
    for (const name of applied) ctx.out(`applied ${name}`);
    ctx.out(
      `database is up to date (${migrations.length} migration${migrations.length === 1 ? '' : 's'})`,
    );
    return 0;
  },
};
