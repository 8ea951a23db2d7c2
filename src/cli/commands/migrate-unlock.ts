import type { Command } from '../command.js';
import { EXIT } from '../command.js';
import { withProject } from '../context.js';
import { PROJECT_FLAGS } from '../flags.js';
import { jsonDocument } from '../json-document.js';
import { palette } from '../output.js';
import { describeHolder, formatDuration } from '../../migrator/lock-events.js';
import { MigrationLock } from '../../migrator/migration-lock.js';

/** `knex-zd migrate:unlock [--force]`: release a dead run's migration lock, and knex's lock row. */
export const migrateUnlockCommand: Command = {
  name: 'migrate:unlock',
  summary: "Release the migration lock of a run that is gone (--force: of any run), and knex's lock row.",
  help: `Usage: knex-zd migrate:unlock [--force] [--json]

A killed run never needs this: the next run takes its lock over by itself. It releases the
knex-zd migration lock when its holder is gone (its lease expired, or its process no longer runs
on this machine) and leaves knex's lock table unlocked with one row, as knex migrate:unlock does.
A holder that looks alive is refused (exit 1), naming it.
  --force    release the lock even if its holder looks alive (only when you are sure it is not running)
  --json     machine-readable result`,
  flags: { ...PROJECT_FLAGS, force: { type: 'boolean' }, json: { type: 'boolean' } },
  async run({ values }, output) {
    return withProject(values as never, {}, async ({ knex, migrator }) => {
      const lock = new MigrationLock(knex, { migrationsTable: migrator.config.tableName, schemaName: migrator.config.schemaName });
      const result = await lock.unlock({ force: values.force === true });
      if (values.json) {
        output.out(jsonDocument(true, { ...result }));
        return EXIT.ok;
      }
      const c = palette(output.color);
      const { released, knexLock } = result;
      if (released !== null) {
        const why = result.forced
          ? 'forced (--force)'
          : released.process === 'gone'
            ? 'its process no longer runs'
            : `its lease expired ${formatDuration(-released.expiresInMs)} ago`;
        output.out(c.green(`Released the migration lock of ${describeHolder(released)}, started ${formatDuration(released.startedAgoMs)} ago: ${why}.`));
      }
      if (knexLock.unlocked > 0) output.out(c.green("Released knex's lock row (it was set)."));
      if (knexLock.deleted > 0) output.out(c.green(`Deleted ${knexLock.deleted} extra row${knexLock.deleted === 1 ? '' : 's'} of knex's lock table.`));
      if (released === null && knexLock.unlocked === 0 && knexLock.deleted === 0) {
        output.out(c.green("Nothing to unlock: no run holds the migration lock, and knex's lock row is not set."));
      }
      return EXIT.ok;
    });
  },
};
